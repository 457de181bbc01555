"""The order-events contract: the plain-Python reference (tests/reference_contract.py) against the
generator's ground truth and hand-made hostile records, and the staging SQL built from the same
declarations (lakehouse/contract.py)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lakehouse import contract, sql
from lakehouse.sources import generator
from tests import fuzz_orders
from tests.reference_contract import check

ARRIVAL = generator.DEFAULT_START_MS + 60_000
GOOD = {
    "event_id": "E1",
    "event_type": "ORDER_PLACED",
    "order_id": "O1",
    "ts_ms": generator.DEFAULT_START_MS,
    "customer_id": "C0001",
    "product_id": "P001",
    "quantity": 2,
    "amount": 19.9,
    "currency": "EUR",
}


def verdict(value: bytes | str | None, **kwargs):
    raw = value.encode() if isinstance(value, str) else value
    return check(raw, arrival_ms=ARRIVAL, position="orders/0/17", **kwargs)


def event(**changes) -> str:
    body = {**GOOD, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not ...}, allow_nan=True)


def test_every_generated_record_gets_the_reason_the_generator_meant():
    dataset = generator.generate(generator.GeneratorConfig(minutes=6))
    seen = set()
    for record in dataset.orders:
        got = check(record.value.encode(), arrival_ms=record.arrival_ms, position="")
        expected = record.expect.get("quarantine")
        if expected == contract.REASON_UNKNOWN_CUSTOMER:  # contract-valid: enrichment rejects it
            expected = None
        assert got.reason == expected, record.value
        seen.add(expected)
    assert len(seen) >= 6, seen


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (event(), None),
        (event(amount="NaN"), contract.reason_wrong_type("amount")),
        (event(amount=float("nan")), contract.REASON_BAD_JSON),  # NaN is not JSON
        (event(amount=float("inf")), contract.REASON_BAD_JSON),  # nor is Infinity
        (event().replace("19.9", "1e400"), contract.REASON_AMOUNT_RANGE),
        (event().replace("19.9", "-1e400"), contract.REASON_NON_POSITIVE_AMOUNT),
        (event(amount=contract.MAX_AMOUNT * 2), contract.REASON_AMOUNT_RANGE),
        (event(amount=0), contract.REASON_NON_POSITIVE_AMOUNT),
        (event(quantity=2**40), contract.REASON_QUANTITY_RANGE),
        (event(quantity=contract.MAX_QUANTITY + 1), contract.REASON_QUANTITY_RANGE),
        (event(quantity=2.0), contract.reason_wrong_type("quantity")),
        (event(ts_ms=-1), contract.REASON_PAST),
        (event(ts_ms=0), contract.REASON_PAST),
        (event(ts_ms=-(2**70)), contract.REASON_PAST),
        (event(ts_ms=2**70), contract.REASON_FUTURE),
        (event(ts_ms=ARRIVAL + 25 * 3_600_000), contract.REASON_FUTURE),
        (event(ts_ms=str(GOOD["ts_ms"])), contract.reason_wrong_type("ts_ms")),
        (event(customer_id={"id": "C0001"}), contract.reason_wrong_type("customer_id")),
        (event(order_id=["O1"]), contract.reason_wrong_type("order_id")),
        (event(event_id=7), contract.reason_wrong_type("event_id")),
        (event(order_id=None), contract.reason_missing("order_id")),
        (event(order_id=...), contract.reason_missing("order_id")),
        (event(customer_id="C\udc80"), contract.reason_invalid_text("customer_id")),
        (event(currency="XXX"), contract.REASON_UNKNOWN_CURRENCY),
        ("", contract.REASON_EMPTY),
        (None, contract.REASON_EMPTY),
        (b'{"event_id":"\xff"}', contract.REASON_NOT_UTF8),
        ("[1]", contract.REASON_BAD_JSON),
        ('{"a":1} {"b":2}', contract.REASON_BAD_JSON),
    ],
)
def test_each_class_of_bad_input_gets_its_reason(value, reason):
    assert verdict(value).reason == reason


def test_a_record_over_the_limit_is_too_large_whatever_it_holds():
    assert verdict(event(), max_record_bytes=64).reason == contract.REASON_TOO_LARGE
    assert verdict(event(), max_record_bytes=1024).reason is None


def test_a_record_without_payload_is_keyed_by_its_position_and_bytes_that_are_not_utf8_are_kept():
    empty, null = verdict(""), verdict(None)
    assert empty.record_id == null.record_id == contract.record_id(None, "orders/0/17")
    assert check(None, arrival_ms=ARRIVAL, position="orders/0/18").record_id != null.record_id
    raw = b'{"event_id":"\xff\xfe"}'
    kept = verdict(raw)
    assert kept.payload.startswith(contract.BASE64_PREFIX)
    assert contract.original_bytes(kept.payload) == raw


def test_the_quarantine_event_time_is_set_only_for_a_plausible_time():
    assert verdict(event(currency="XXX")).event_time_ms == GOOD["ts_ms"]
    assert verdict(event(ts_ms=-5)).event_time_ms is None
    assert verdict(event(ts_ms=ARRIVAL + 25 * 3_600_000)).event_time_ms is None
    assert verdict(event(ts_ms="yesterday")).event_time_ms is None


def test_the_staging_sql_takes_every_rule_from_the_contract():
    values = contract.sql_values(max_record_bytes=4096)
    text = sql.load("flink/stg_order_events", **values) + sql.load("flink/bronze_quarantine", **values)
    assert "{{" not in text and "size_bytes > 4096" in text
    reasons = [v for k, v in vars(contract).items() if k.startswith("REASON_")]
    enrichment = (contract.REASON_UNKNOWN_CUSTOMER, contract.REASON_UNKNOWN_PRODUCT)
    for reason in reasons:
        if reason not in enrichment:
            assert f"'{reason}'" in text, reason
    for f in contract.FIELDS:
        assert f"{f.name}:{f.json_type}" in text
    for bound in (contract.MIN_EVENT_TIME_MS, contract.MAX_EVENT_TIME_MS, contract.MAX_QUANTITY, contract.MAX_AMOUNT):
        assert str(bound) in text
    # No reason of the contract is written into these SQL files by hand.
    source = "".join(
        (sql.SQL_DIR / "flink" / f"{n}.sql").read_text() for n in ("stg_order_events", "bronze_quarantine")
    )
    for reason in set(reasons) - set(enrichment):
        assert f"'{reason}'" not in source, reason


def test_the_fuzzer_is_deterministic_and_covers_every_class():
    first = fuzz_orders.records(seed=7, count=400)
    again = fuzz_orders.records(seed=7, count=400)
    assert [r.value for r in first] == [r.value for r in again]
    reasons = {check(r.value, arrival_ms=r.arrival_ms, position="f", max_record_bytes=4096).reason for r in first}
    for reason in (None, *fuzz_orders.COVERED_REASONS):
        assert reason in reasons, reason
    assert any(r and r.startswith("wrong type: ") for r in reasons)
    assert any(r and r.startswith("invalid text: ") for r in reasons)


def test_the_model_keeps_the_first_event_of_an_event_id_and_quarantines_the_others():
    from lakehouse import rules
    from lakehouse.lake import tables
    from tests.reference import Model

    dataset = generator.generate(generator.GeneratorConfig(minutes=45, orders_per_second=0.5, seed=3))
    orders, hostile = fuzz_orders.interleave(dataset.orders, seed=3, count=300, max_record_bytes=4096)
    for record in hostile:
        got = check(record.value, arrival_ms=record.arrival_ms, position="f", max_record_bytes=4096)
        record.expect = {"event": got.event, "late": False} if got.reason is None else {"quarantine": got.reason}
    model = Model(
        replace(dataset, orders=orders),
        rules.load(generator_rules()),
        max_record_bytes=4096,
        order_positions=lambda _r: "f",
    )
    quarantine = model.tables[tables.QUARANTINE.name].values()
    reasons = {r["reason"] for r in quarantine}
    assert {contract.REASON_DUPLICATE, contract.REASON_DUPLICATE_CONFLICT} <= reasons
    silver_ids = [key[0] for key in model.tables[tables.ORDER_EVENTS.name]]
    valid = [r for r in orders if "event" in r.expect or r.expect.get("quarantine") == contract.REASON_UNKNOWN_CUSTOMER]
    duplicates = [r for r in quarantine if r["reason"].startswith("duplicate")]
    assert len(silver_ids) + len(duplicates) == len(valid)
    for row in duplicates:
        event_id = json.loads(row["payload"])["event_id"]
        assert (event_id,) in model.tables[tables.ORDER_EVENTS.name]


def generator_rules():
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "config" / "anomaly_rules.toml"
