"""The quality gates on a real pipeline run: every table passes, then corrupted versions (a
duplicate key, a negative amount, a broken window sum) are each reported and marked."""

from __future__ import annotations

import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse.lake import read_model, storage, tables
from lakehouse.ml import training
from lakehouse.quality import gates as quality

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lake(pipeline_lake_copy):
    return pipeline_lake_copy("quality")


@pytest.fixture(scope="module")
def clean_verdicts(lake):
    """Check the pipeline's tables as they are (and the read model folded from them); name -> report."""
    read_model.update_orders_current(lake)
    names = quality.checked_tables(lake)
    assert names == quality.checked_tables(), "every table with a suite exists"
    return {name: quality.check(lake, name) for name in names}


def _delta(settings, spec) -> DeltaTable:
    return DeltaTable(storage.table_uri(settings, spec))


def test_the_pipeline_output_passes_every_suite(lake, clean_verdicts):
    for name, report in clean_verdicts.items():
        assert report.success, report.render()
        assert quality.latest_validated_version(name, settings=lake) == report.version
    enriched = clean_verdicts[tables.ORDERS_ENRICHED.name]
    history = [f for f in enriched.findings if f.check == "dimension_history"]
    assert history and all(f.rows > 1000 for f in history), "the dimension history check must run on the rows"
    sums = [f for f in clean_verdicts[tables.METRICS_5M.name].findings if f.check == "window_sums"]
    assert sums and all(f.rows == 300 for f in sums)


def test_each_corruption_is_reported_and_its_version_marked(lake, clean_verdicts):
    before = {name: r.version for name, r in clean_verdicts.items()}
    events = _delta(lake, tables.ORDER_EVENTS)
    write_deltalake(events.table_uri, events.to_pyarrow_table().slice(100, 1), mode="append", partition_by=["dt"])
    enriched = _delta(lake, tables.ORDERS_ENRICHED)
    victim = enriched.to_pyarrow_table(columns=["event_id"]).column(0)[42].as_py()
    enriched.update(predicate=f"event_id = '{victim}'", updates={"amount": "-amount", "amount_eur": "-amount_eur"})
    five = _delta(lake, tables.METRICS_5M)
    five.update(
        predicate="region = 'EU-WEST' and category = 'books' and window_start = '2026-01-01T00:10:00Z'",
        updates={"order_count": "order_count + 1", "revenue_eur": "revenue_eur + 250"},
    )

    expected = {
        tables.ORDER_EVENTS.name: "[rows] (event_id) unique",
        tables.ORDERS_ENRICHED.name: "[rows] amount > 0",
        tables.METRICS_5M.name: "[window_sums] revenue_is_sum_of_1m",
    }
    for name, failure in expected.items():
        report = quality.check(lake, name)
        failed = {f"[{f.check}] {f.name}" for f in report.failures}
        print(report.render())
        assert failure in failed
        assert report.version == before[name] + 1
        assert quality.verdicts(lake, name)[report.version] is False
        assert quality.latest_validated_version(name, settings=lake) == before[name]
    five_report = quality.validate(lake, tables.METRICS_5M.name)
    assert {"[window_sums] order_count_is_sum_of_1m", "[rows] average_is_revenue_over_count"} <= {
        f"[{f.check}] {f.name}" for f in five_report.failures
    }

    # A reader that wants validated data only gets the versions from before the corruption.
    pinned = training.pin_sources(lake, validated_only=True)
    assert pinned[tables.ORDERS_ENRICHED.name] == before[tables.ORDERS_ENRICHED.name]
    assert pinned[tables.METRICS_5M.name] == before[tables.METRICS_5M.name]
