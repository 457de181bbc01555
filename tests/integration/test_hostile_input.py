"""Hostile order events through the embedded pipeline (mini-cluster, no services), fuzzed with a
fixed seed (tests/fuzz_orders.py) and judged by the plain-Python contract (tests/reference_contract.py).

What a user would check: every published record is in exactly one place that says why (silver,
with late ones also in bronze.late_events, or bronze.quarantine with its reason), every table
equals the reference model, no table holds a non-finite number, and the job never restarted: it
runs with Flink's restart strategy off, so a single failure would fail the run. The run is
stopped abruptly after its first commits and resumed, so the replay of its uncommitted part
must find every row, quarantine rows included, exactly once.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from lakehouse import contract, rules
from lakehouse.lake import storage, tables
from lakehouse.pipeline import embedded
from lakehouse.sources import generator
from tests import fuzz_orders
from tests.compare import diff, non_finite, read_rows
from tests.reference import Model
from tests.reference_contract import check

pytestmark = pytest.mark.integration

SEED = 1717
HOSTILE = 3_000
MAX_RECORD_BYTES = 4_096
# Enough event time for late events (the generator makes them in the dense middle of the stream).
GEN = generator.GeneratorConfig(seed=SEED, minutes=45, orders_per_second=2.0, late_ratio=0.02)


@pytest.fixture(scope="module")
def scenario(no_restart_settings):
    settings = no_restart_settings("hostile", max_record_bytes=MAX_RECORD_BYTES)
    dataset = generator.generate(GEN)
    orders, hostile = fuzz_orders.interleave(
        dataset.orders, seed=SEED, count=HOSTILE, max_record_bytes=MAX_RECORD_BYTES
    )
    order_file = settings.input_dir / "order-events" / "order-events.jsonl"
    generator.write(replace(dataset, orders=[]), settings.input_dir)
    with order_file.open("wb") as out:
        for record in orders:
            out.write(record.value if isinstance(record.value, bytes) else record.value.encode())
            out.write(b"\n")
    position = str(order_file)
    # The expected outcome of each hostile record, from the reference contract.
    for record in hostile:
        verdict = check(
            record.value, arrival_ms=record.arrival_ms, position=position, max_record_bytes=MAX_RECORD_BYTES
        )
        late = record.expect["source_late"]
        if verdict.reason is None:
            event = dict(verdict.event)
            if "amount" in event:
                event["amount"] = float(event["amount"])
            record.expect = {"event": event, "late": late}
        else:
            record.expect = {"quarantine": verdict.reason}
    fuzzed = replace(dataset, orders=orders)
    model = Model(
        fuzzed,
        rules.load(settings.rules_file),
        order_positions=lambda _record: position,
        max_record_bytes=MAX_RECORD_BYTES,
    )
    # Stopped abruptly after its first commits, then resumed from its last checkpoint: a replay of
    # the uncommitted part, which must find every quarantine row once like every other row.
    first = embedded.run_pipeline(
        # Checkpoints and polls close together: on a quiet machine with a warm JVM the whole input
        # (about 8,000 records) went through within one 1 s checkpoint, and the first run found
        # nothing left to stop.
        replace(settings, checkpoint_interval_ms=200),
        poll_seconds=0.1,
        stop_when=lambda rows: rows[tables.QUARANTINE.name] > 0,
    )
    second = embedded.run_pipeline(settings)
    actual = {spec.name: read_rows(storage.table_uri(settings, spec), spec) for spec in tables.ALL}
    return settings, fuzzed, hostile, model, (first, second), actual


def test_the_fuzzed_input_covers_every_class_of_bad_input(scenario):
    _, _, hostile, _, _, _ = scenario
    reasons = {r.expect.get("quarantine") for r in hostile}
    for reason in (
        *fuzz_orders.COVERED_REASONS,
        contract.REASON_QUANTITY_RANGE,
        contract.REASON_UNKNOWN_TYPE,
        contract.REASON_UNKNOWN_CURRENCY,
    ):
        assert reason in reasons, reason
    assert any("event" in r.expect for r in hostile if r.value.startswith(b'{"event_id":"E')), "duplicates"
    assert any(r and r.startswith("wrong type: ") for r in reasons)
    assert any(r and r.startswith("invalid text: ") for r in reasons)
    assert any("event" in r.expect for r in hostile), "some mutations keep an event valid"
    assert any(r.expect.get("late") for r in hostile), "some valid hostile events are late"


def test_every_table_equals_the_reference_model_after_a_stop_and_a_resume(scenario):
    _, _, _, model, (first, second), actual = scenario
    quarantined = len(actual[tables.QUARANTINE.name])
    assert 0 < first[tables.QUARANTINE.name] < quarantined, "the first run must stop part-way"
    problems = []
    for spec in tables.ALL:
        problems += diff(spec, actual[spec.name], model.tables[spec.name])
    assert not problems, "\n".join(problems)
    # The two runs together committed each row once.
    assert first[tables.QUARANTINE.name] + second[tables.QUARANTINE.name] == quarantined


def test_every_published_order_record_is_in_exactly_one_place_that_says_why(scenario):
    _, fuzzed, _, _, _, actual = scenario
    silver = actual[tables.ORDER_EVENTS.name]
    enrichment = (contract.REASON_UNKNOWN_CUSTOMER, contract.REASON_UNKNOWN_PRODUCT)
    rejected = [
        r
        for r in actual[tables.QUARANTINE.name]
        if r["source_stream"] == "order-events" and r["reason"] not in enrichment
    ]
    # A record the contract accepts is a silver row, unless its event_id came before (then it is a
    # quarantine row as a duplicate); one it rejects is a quarantine row: never both, never none.
    assert len(silver) + len(rejected) == len(fuzzed.orders)
    assert len({r["event_id"] for r in silver}) == len(silver)
    reasons = {r["reason"] for r in rejected}
    assert {contract.REASON_DUPLICATE, contract.REASON_DUPLICATE_CONFLICT} <= reasons
    assert all(r["reason"] for r in rejected)
    late_ids = {r["event_id"] for r in actual[tables.LATE_EVENTS.name]}
    assert late_ids == {r["event_id"] for r in silver if r["is_late"]}
    assert late_ids, "the input has late events"


def test_no_table_holds_a_non_finite_number(scenario):
    _, _, _, _, _, actual = scenario
    bad = non_finite(actual)
    assert not bad, bad[:5]


def test_a_quarantined_record_gives_back_the_bytes_that_were_published(scenario):
    _, _, hostile, _, _, actual = scenario
    published = {r.value for r in hostile if "quarantine" in r.expect}
    kept = {contract.original_bytes(r["payload"]) or b"" for r in actual[tables.QUARANTINE.name]}
    assert published <= kept


def test_the_quality_suites_pass_on_what_was_set_aside_and_flag_only_business_repeats_in_silver(scenario):
    from lakehouse.quality import gates as quality

    settings = scenario[0]
    for name in (tables.QUARANTINE.name, tables.LATE_EVENTS.name):
        report = quality.validate(settings, name)
        assert report.success, report.render()
    # The fuzzer publishes contract-valid events with new ids for steps an order already had (a
    # second SHIPPED): the contract accepts them, the silver suite's business rule does not.
    silver = quality.validate(settings, tables.ORDER_EVENTS.name)
    failed = [f for f in silver.findings if not f.success]
    assert failed and all(f.description.endswith("each step happens once per order") for f in failed), silver.render()
