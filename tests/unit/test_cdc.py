"""How one Debezium change record is read (the reference reading, tests/reference_cdc.py), and the
job's CDC configuration. The job's SQL is held to the same reading by tests/integration."""

from __future__ import annotations

import json

import pytest

from jobs import orders_pipeline
from lakehouse import config, contract, sql
from lakehouse.sources import cdc
from tests.reference_cdc import read_change

NOW = 1_790_000_000_000
SOURCE = {"connector": "postgresql", "db": "shop", "ts_ms": NOW - 10}


def _customer(**overrides) -> dict:
    row = {"customer_id": "C1", "name": "A", "region": "APAC", "segment": "consumer", "updated_at": NOW - 1000}
    return {**row, **overrides}


def _read(envelope: dict | str | None, stream: str = "customers", *, wrapped=False, mode="auto"):
    if isinstance(envelope, dict):
        envelope = json.dumps({"schema": {"type": "struct"}, "payload": envelope} if wrapped else envelope)
    return read_change(envelope, stream, arrival_ms=NOW, envelope=mode)


def test_a_tombstone_is_skipped():
    assert _read(None) == ("skip", None)


@pytest.mark.parametrize("wrapped", [False, True])
def test_plain_and_schema_wrapped_envelopes_read_alike_in_auto_mode(wrapped):
    kind, version = _read({"before": None, "after": _customer(), "op": "u", "source": SOURCE}, wrapped=wrapped)
    assert kind == "change"
    assert version["customer_id"] == "C1" and version["region"] == "APAC"
    assert version["updated_at"] == NOW - 1000 and not version["is_deleted"]


def test_the_configured_envelope_is_required_when_not_auto():
    change = {"before": None, "after": _customer(), "op": "c", "source": SOURCE}
    assert _read(change, mode="schema") == ("reject", "missing field: payload (schema-wrapped envelope expected)")
    assert _read(change, wrapped=True, mode="plain") == ("reject", "missing field: op")
    assert _read(change, wrapped=True, mode="schema")[0] == "change"


def test_a_delete_takes_the_commit_time_and_needs_only_the_key():
    before = {"customer_id": "C1", "name": None, "region": None, "segment": None, "updated_at": None}
    kind, version = _read({"before": before, "after": None, "op": "d", "source": SOURCE, "ts_ms": NOW})
    assert kind == "change" and version["is_deleted"] and version["updated_at"] == NOW - 10
    # Without source.ts_ms, the envelope's ts_ms.
    kind, version = _read({"before": before, "after": None, "op": "d", "source": {}, "ts_ms": NOW - 5})
    assert version["updated_at"] == NOW - 5
    assert _read({"before": None, "after": None, "op": "d", "source": SOURCE}) == (
        "reject",
        "missing field: before.customer_id",
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("not json", "invalid JSON"),
        ("[1, 2]", "invalid JSON"),
        ({"after": _customer(), "source": SOURCE}, "missing field: op"),
        ({"after": _customer(), "op": "t", "source": SOURCE}, "unknown op"),
        ({"after": _customer(), "op": "m", "source": SOURCE}, "unknown op"),
        ({"after": None, "op": "u", "source": SOURCE}, "missing field: after.customer_id"),
        ({"after": _customer(updated_at=None), "op": "u"}, "missing field: after.updated_at"),
        ({"after": _customer(updated_at="2026-11-30T02:00:00Z"), "op": "u"}, "wrong type: after.updated_at"),
        ({"after": _customer(updated_at=NOW + 48 * 3_600_000), "op": "u"}, "version time out of range"),
        ({"after": _customer(updated_at=-5), "op": "r"}, "version time out of range"),
        ({"before": {"customer_id": "C1"}, "op": "d", "source": {}}, "missing field: source.ts_ms"),
    ],
)
def test_each_broken_rule_has_its_reason(value, reason):
    assert _read(value) == ("reject", reason)


def test_product_prices_as_double_or_string_but_not_base64():
    product = {"product_id": "P1", "name": "x", "category": "books", "updated_at": NOW - 1}
    assert _read({"after": {**product, "price": 9.5}, "op": "c"}, "products")[1]["price"] == 9.5
    assert _read({"after": {**product, "price": "12.50"}, "op": "c"}, "products")[1]["price"] == 12.5
    assert _read({"after": {**product, "price": "A+g="}, "op": "c"}, "products") == (
        "reject",
        "wrong type: after.price (decimal.handling.mode must be double or string)",
    )


@pytest.mark.parametrize("price", [0, -1.5, "NaN", "Infinity", "-Infinity", "1e400", contract.MAX_PRICE * 2])
def test_a_product_price_must_be_positive_finite_and_bounded(price):
    product = {"product_id": "P1", "name": "x", "category": "books", "updated_at": NOW - 1, "price": price}
    assert _read({"after": product, "op": "c"}, "products") == ("reject", "price out of range")


@pytest.mark.parametrize("updated_at", [1.5, 1e12, "1.5", " 12", "12a"])
def test_a_version_time_is_an_integer(updated_at):
    assert _read({"after": _customer(updated_at=updated_at), "op": "c"}) == ("reject", "wrong type: after.updated_at")


def test_text_after_the_change_is_not_json():
    text = json.dumps({"after": _customer(), "op": "c"})
    assert read_change(text + " trailing", "customers", arrival_ms=NOW) == ("reject", "invalid JSON")
    assert read_change(text + text, "customers", arrival_ms=NOW) == ("reject", "invalid JSON")


def test_a_price_written_as_a_json_constant_is_not_json():
    text = '{"op":"c","after":{"product_id":"P1","name":"x","category":"b","updated_at":1,"price":NaN}}'
    assert read_change(text, "products", arrival_ms=NOW) == ("reject", "invalid JSON")


def test_every_reason_of_the_reference_is_one_the_sql_can_give():
    text = sql.load("flink/stg_customers") + sql.load("flink/stg_products", **contract.sql_values())
    for reason in (
        "invalid JSON",
        "missing field: payload (schema-wrapped envelope expected)",
        "unknown op",
        "version time out of range",
        "wrong type: after.price (decimal.handling.mode must be double or string)",
        "price out of range",
    ):
        assert f"'{reason}'" in text


def test_dimension_sources_are_raw_and_the_envelope_comes_from_configuration(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_CDC_ENVELOPE", "schema")
    settings = config.load("local")
    assert settings.cdc_envelope == "schema"
    options = orders_pipeline.source_options(settings)
    assert options["src_customers"]["format"] == options["src_products"]["format"] == "raw"
    assert "json_query(payload, '$.payload')" == cdc.envelope_expression(settings.cdc_envelope)
    with pytest.raises(ValueError, match="cdc_envelope"):
        cdc.envelope_expression("avro")
