"""Hand-made Debezium records on the dimension streams (embedded mini-cluster): the job keeps
running, usable changes are applied at their version time, the rest land in bronze.quarantine with
their reason, and every table equals the reference model (tests/reference_cdc.py reads each record
independently of the job's SQL).
"""

from __future__ import annotations

import pytest

from lakehouse import config, rules
from lakehouse.lake import storage, tables
from lakehouse.pipeline import embedded
from lakehouse.sources import generator
from tests.cdc_records import handmade
from tests.compare import diff, read_rows
from tests.reference import Model

pytestmark = pytest.mark.integration

GEN = generator.GeneratorConfig(minutes=12, orders_per_second=2.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    settings = config.load("embedded", data_dir=tmp_path_factory.mktemp("cdc-records"), checkpoint_interval_ms=2000)
    dataset = handmade(generator.generate(GEN))
    generator.write(dataset, settings.input_dir)
    model = Model(dataset, rules.load(settings.rules_file))
    inserted = embedded.run_pipeline(settings)
    return settings, model, inserted


def _rows(settings, spec) -> list[dict]:
    return read_rows(storage.table_uri(settings, spec), spec)


def test_every_table_equals_the_model(run):
    settings, model, inserted = run
    problems = []
    for spec in tables.ALL:
        problems += diff(spec, _rows(settings, spec), model.tables[spec.name])
    assert not problems, "\n".join(problems[:30])
    assert inserted["silver.orders_enriched"] > 1000


def test_each_bad_change_is_quarantined_with_its_reason(run):
    settings, _model, _ = run
    got = {(r["source_stream"], r["reason"]) for r in _rows(settings, tables.QUARANTINE)}
    assert {
        ("customers", "unknown op"),
        ("customers", "invalid JSON"),
        ("customers", "missing field: op"),
        ("customers", "missing field: after.updated_at"),
        ("customers", "wrong type: after.updated_at"),
        ("customers", "missing field: before.customer_id"),
        ("products", "wrong type: after.price (decimal.handling.mode must be double or string)"),
        ("products", "missing field: after.price"),
    } <= got


def test_a_delete_takes_effect_at_its_own_time(run):
    settings, model, _ = run
    deleted = [r for r in model.dataset.customers if r.value and '"op":"d"' in r.value and '"before":{' in r.value]
    cid = deleted[-1].key
    enriched = [r for r in _rows(settings, tables.ORDERS_ENRICHED) if r["customer_id"] == cid]
    unknown = [
        r
        for r in _rows(settings, tables.QUARANTINE)
        if r["reason"] == "unknown customer_id at event time" and f'"customer_id":"{cid}"' in r["payload"]
    ]
    assert enriched and unknown, "the deleted customer must have orders before and after its delete"
    assert max(r["event_time"] for r in enriched) < min(r["event_time"] for r in unknown)


def test_schema_wrapped_and_before_less_updates_are_applied(run):
    settings, _model, _ = run
    enriched = _rows(settings, tables.ORDERS_ENRICHED)
    assert any(r["region"] == "LATAM" and r["segment"] == "business" for r in enriched)
    assert any(r["category"] == "garden" and r["unit_price_eur"] == 99.5 for r in enriched)
    assert any(r["category"] == "books" and r["unit_price_eur"] == 12.5 for r in enriched)
