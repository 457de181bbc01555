"""The daily report's transform on small fixed rows, and gold.daily_report written once per source versions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse import config
from lakehouse.lake import storage, tables
from lakehouse.query import batch_report


def _orders(rows: list[tuple]) -> pl.LazyFrame:
    return pl.LazyFrame(
        rows,
        schema={
            "event_time": pl.Datetime("us", "UTC"),
            "region": pl.String,
            "amount_eur": pl.Float64,
            "customer_id": pl.String,
        },
        orient="row",
    )


def _anomalies(rows: list[tuple]) -> pl.LazyFrame:
    return pl.LazyFrame(rows, schema={"window_start": pl.Datetime("us", "UTC"), "region": pl.String}, orient="row")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def test_daily_report_per_day_and_region():
    orders = _orders(
        [
            (at(1, 10), "EU-WEST", 100.0, "c1"),
            (at(1, 23, 59), "EU-WEST", 50.0, "c1"),  # same customer, same day
            (at(2, 0, 0), "EU-WEST", 30.0, "c2"),  # midnight belongs to the next day
            (at(1, 12), "APAC", 10.0, "c3"),
        ]
    )
    anomalies = _anomalies([(at(1, 10), "EU-WEST"), (at(1, 11), "EU-WEST"), (at(2, 5), "NA-EAST")])
    report = batch_report.transform(orders, anomalies)
    assert report.columns == batch_report.DAILY_REPORT.column_names()
    assert report.to_dicts() == [
        {
            "day": date(2026, 1, 1),
            "region": "APAC",
            "orders": 1,
            "revenue_eur": 10.0,
            "avg_order_value_eur": 10.0,
            "customers": 1,
            "anomalies": 0,
        },
        {
            "day": date(2026, 1, 1),
            "region": "EU-WEST",
            "orders": 2,
            "revenue_eur": 150.0,
            "avg_order_value_eur": 75.0,
            "customers": 1,
            "anomalies": 2,
        },
        {
            "day": date(2026, 1, 2),
            "region": "EU-WEST",
            "orders": 1,
            "revenue_eur": 30.0,
            "avg_order_value_eur": 30.0,
            "customers": 1,
            "anomalies": 0,
        },
        {
            "day": date(2026, 1, 2),
            "region": "NA-EAST",
            "orders": 0,
            "revenue_eur": 0.0,
            "avg_order_value_eur": None,
            "customers": 0,
            "anomalies": 1,
        },
    ]


def test_empty_sources_give_an_empty_report():
    report = batch_report.transform(_orders([]), _anomalies([]))
    assert report.height == 0
    assert report.columns == batch_report.DAILY_REPORT.column_names()


@pytest.fixture
def local_tables(tmp_path):
    """The two source tables on local disk, each with two versions after creation."""
    settings = config.load("embedded", data_dir=tmp_path)
    storage.ensure_tables(settings, batch_report.SOURCES)
    enriched = tables.ORDERS_ENRICHED.arrow_schema()
    anomalies = tables.ANOMALIES.arrow_schema()
    for day in (1, 2):
        row = {name: None for name in enriched.names} | {
            "event_id": f"e{day}",
            "event_time": at(day, 9),
            "region": "APAC",
            "amount_eur": 10.0 * day,
            "customer_id": "c1",
            "dt": f"2026-01-0{day}",
        }
        write_deltalake(
            storage.table_uri(settings, tables.ORDERS_ENRICHED),
            pa.Table.from_pylist([row], schema=enriched),
            mode="append",
        )
        firing = {name: None for name in anomalies.names} | {
            "rule_id": "r",
            "window_start": at(day, 9),
            "region": "APAC",
        }
        write_deltalake(
            storage.table_uri(settings, tables.ANOMALIES),
            pa.Table.from_pylist([firing], schema=anomalies),
            mode="append",
        )
    return settings


def test_run_reads_pinned_versions_and_writes_once_per_source_versions(local_tables):
    settings = local_tables
    first = batch_report.run(settings)
    assert first.source_versions == {"silver.orders_enriched": 2, "gold.anomalies": 2}
    assert first.version == 0
    assert first.report["orders"].to_list() == [1, 1]

    assert batch_report.run(settings).version is None, "same source versions: nothing written"

    older = batch_report.run(settings, {"silver.orders_enriched": 1, "gold.anomalies": 1})
    assert older.version == 1
    assert older.report.to_dicts()[0]["revenue_eur"] == 10.0 and older.report.height == 1
    assert batch_report.source_versions_of(settings) == {"silver.orders_enriched": 1, "gold.anomalies": 1}
    assert batch_report.source_versions_of(settings, 0) == first.source_versions
    written = DeltaTable(storage.table_uri(settings, batch_report.DAILY_REPORT)).to_pyarrow_table()
    assert written.schema.equals(batch_report.DAILY_REPORT.arrow_schema())
    assert written.num_rows == 1
