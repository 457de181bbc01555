"""Hostile change records on the customers and products streams through the embedded pipeline,
fuzzed with a fixed seed (tests/fuzz_cdc.py) and judged by the plain-Python reading of a change
(tests/reference_cdc.py).

What a user would check: every change record is a version of its key or a quarantine row with its
reason (nothing dropped, nothing applied twice), every table equals the reference model, no table
holds a non-finite number (a price of NaN, Infinity or 1e400 is quarantined, not joined into
orders), and the job never restarted: it runs with Flink's restart strategy off.
"""

from __future__ import annotations

import pytest

from lakehouse import rules
from lakehouse.lake import storage, tables
from lakehouse.pipeline import embedded
from lakehouse.sources import generator
from tests import fuzz_cdc
from tests.compare import diff, non_finite, read_rows
from tests.reference import Model
from tests.reference_cdc import read_change

pytestmark = pytest.mark.integration

SEED = 1719
HOSTILE = 400
GEN = generator.GeneratorConfig(seed=SEED, minutes=12, orders_per_second=2.0)


@pytest.fixture(scope="module")
def scenario(no_restart_settings):
    settings = no_restart_settings("hostile-cdc")
    dataset, hostile = fuzz_cdc.interleave(generator.generate(GEN), seed=SEED, count=HOSTILE)
    generator.write(dataset, settings.input_dir)
    model = Model(dataset, rules.load(settings.rules_file))
    embedded.run_pipeline(settings)
    actual = {spec.name: read_rows(storage.table_uri(settings, spec), spec) for spec in tables.ALL}
    return dataset, hostile, model, actual


def _verdicts(records, stream):
    return [read_change(r.value, stream, arrival_ms=r.arrival_ms) for r in records]


def test_the_fuzzed_changes_cover_every_rule(scenario):
    _, hostile, _, _ = scenario
    verdicts = [v for s in ("customers", "products") for v in _verdicts([r for r in hostile if r.stream == s], s)]
    reasons = {v[1] for v in verdicts if v[0] == "reject"}
    for reason in (
        "invalid JSON",
        "unknown op",
        "missing field: op",
        "missing field: after.customer_id",
        "missing field: after.product_id",
        "wrong type: after.updated_at",
        "version time out of range",
        "price out of range",
        "wrong type: after.price (decimal.handling.mode must be double or string)",
    ):
        assert reason in reasons, reason
    assert {v[0] for v in verdicts} == {"change", "reject"}, "some mutations keep a change usable"


def test_every_table_equals_the_reference_model(scenario):
    _, _, model, actual = scenario
    problems = []
    for spec in tables.ALL:
        problems += diff(spec, actual[spec.name], model.tables[spec.name])
    assert not problems, "\n".join(problems[:30])
    assert len(actual[tables.ORDERS_ENRICHED.name]) > 1000


def test_every_rejected_change_is_one_quarantine_row_with_its_reason(scenario):
    dataset, _, _, actual = scenario
    for stream, records in (("customers", dataset.customers), ("products", dataset.products)):
        expected = sorted(v[1] for v in _verdicts(records, stream) if v[0] == "reject")
        got = sorted(r["reason"] for r in actual[tables.QUARANTINE.name] if r["source_stream"] == stream)
        assert got == expected, stream


def test_no_table_holds_a_non_finite_number(scenario):
    _, _, _, actual = scenario
    bad = non_finite(actual)
    assert not bad, bad[:5]
