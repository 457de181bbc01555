"""The daily report as a batch job: polars (or Spark) over pinned Delta versions, written to gold.daily_report.

The report (one row per day and region): orders, revenue in EUR, average order value, distinct
customers and anomalies, from silver.orders_enriched and gold.anomalies. sql/trino/rpt_daily_report.sql
is the same report in Trino SQL, lakehouse/query/batch_report_spark.py the same report on Spark (``engine="spark"``,
for sources larger than one machine); the integration tests check that all three agree row for row.

Invariants:
1. Inputs are read at pinned Delta versions (the latest at start unless given), so the output is a
   function of those versions, whatever the pipeline commits meanwhile.
2. gold.daily_report is recomputed whole and written with one overwrite commit that records the
   source versions in its commitInfo (``lakehouse.source_versions``). A run whose source versions
   equal those of the table's latest commit writes nothing: re-running is a no-op.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import polars as pl
from deltalake import CommitProperties, DeltaTable, write_deltalake

from lakehouse.config import Settings
from lakehouse.lake import catalog, storage, tables
from lakehouse.lake.tables import DAILY_REPORT, TableSpec

SOURCES = (tables.ORDERS_ENRICHED, tables.ANOMALIES)
_JOB = "batch-daily-report"
ENGINES = ("polars", "spark")


def transform(orders_enriched: pl.LazyFrame, anomalies: pl.LazyFrame) -> pl.DataFrame:
    """The report from the two source tables (any frames with their columns)."""
    orders = (
        orders_enriched.with_columns(day=pl.col("event_time").dt.convert_time_zone("UTC").dt.date())
        .group_by("day", "region")
        .agg(
            orders=pl.len().cast(pl.Int64),
            revenue_eur=pl.col("amount_eur").sum(),
            customers=pl.col("customer_id").n_unique().cast(pl.Int64),
        )
    )
    firings = (
        anomalies.with_columns(day=pl.col("window_start").dt.convert_time_zone("UTC").dt.date())
        .group_by("day", "region")
        .agg(anomalies=pl.len().cast(pl.Int64))
    )
    report = orders.join(firings, on=["day", "region"], how="full", coalesce=True).with_columns(
        orders=pl.col("orders").fill_null(0),
        revenue_eur=pl.col("revenue_eur").fill_null(0.0),
        customers=pl.col("customers").fill_null(0),
        anomalies=pl.col("anomalies").fill_null(0),
        avg_order_value_eur=pl.when(pl.col("orders") > 0).then(pl.col("revenue_eur") / pl.col("orders")),
    )
    return report.select(DAILY_REPORT.column_names()).sort("day", "region").collect()


def latest_versions(
    settings: Settings, specs: tuple[TableSpec, ...] = SOURCES, *, snapshot: catalog.Snapshot | None = None
) -> dict[str, int]:
    """The current Delta version of each source table (in ``snapshot``, when given)."""
    snapshot = snapshot or catalog.snapshot(settings, specs)
    return {spec.name: snapshot.open(spec).version() for spec in specs}


def read(
    settings: Settings, versions: dict[str, int], *, snapshot: catalog.Snapshot | None = None
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The source tables as lazy frames, each at its pinned version, from one snapshot's locations."""
    snapshot = snapshot or catalog.snapshot(settings, SOURCES)
    frames = []
    for spec in SOURCES:
        frames.append(
            pl.scan_delta(
                snapshot.location(spec),
                version=versions[spec.name],
                storage_options=settings.reader_storage_options() or None,
            )
        )
    return frames[0], frames[1]


@dataclass(frozen=True)
class RunResult:
    report: pl.DataFrame
    source_versions: dict[str, int]
    version: int | None  # gold.daily_report's version written, None when nothing was written


def compute(
    settings: Settings,
    pinned: dict[str, int],
    *,
    engine: str = "polars",
    spark_master: str | None = None,
    snapshot: catalog.Snapshot | None = None,
):
    """The report at pinned source versions, computed by ``engine`` (polars, or Spark with the extra)."""
    snapshot = snapshot or catalog.snapshot(settings, SOURCES)
    if engine == "polars":
        return transform(*read(settings, pinned, snapshot=snapshot))
    if engine == "spark":
        from lakehouse.query import batch_report_spark

        return batch_report_spark.compute(
            settings, pinned, sources=SOURCES, master=spark_master, locations=snapshot.locations
        )
    raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")


def run(
    settings: Settings,
    versions: dict[str, int] | None = None,
    *,
    write: bool = True,
    engine: str = "polars",
    spark_master: str | None = None,
) -> RunResult:
    """Compute the report at pinned source versions (default: the latest) and write it to Delta.

    engine: "polars" (default, one machine) or "spark" (pyspark + delta-spark, the `spark` extra);
    both give the same rows and write the same table, so either skips versions the other reported."""
    snapshot = catalog.snapshot(settings, SOURCES)  # the pointer is read once for the whole report
    pinned = {**latest_versions(settings, snapshot=snapshot), **(versions or {})}
    report = compute(settings, pinned, engine=engine, spark_master=spark_master, snapshot=snapshot)
    if not write:
        return RunResult(report, pinned, None)
    uri = storage.table_uri(settings, DAILY_REPORT)
    options = settings.storage_options()
    if DeltaTable.is_deltatable(uri, storage_options=options):
        last = DeltaTable(uri, storage_options=options).history(1)[0]
        if json.loads(last.get("lakehouse.source_versions", "null") or "null") == pinned:
            return RunResult(report, pinned, None)
    write_deltalake(
        uri,
        report.to_arrow().cast(DAILY_REPORT.arrow_schema()),
        mode="overwrite",
        schema_mode="overwrite",
        name=DAILY_REPORT.name,
        description=DAILY_REPORT.description,
        storage_options=options,
        commit_properties=CommitProperties(
            custom_metadata={
                "lakehouse.job": _JOB,
                "lakehouse.table": DAILY_REPORT.name,
                "lakehouse.source_versions": json.dumps(pinned, sort_keys=True),
            }
        ),
    )
    return RunResult(report, pinned, DeltaTable(uri, storage_options=options).version())


def source_versions_of(settings: Settings, version: int | None = None) -> dict[str, int]:
    """The source versions a written gold.daily_report version (default: the latest) was computed from."""
    # history() of the LATEST snapshot: deltalake 1.6.6 numbers the history of a table loaded at
    # an older version from that version downwards, so its entries carry wrong version numbers.
    table = DeltaTable(storage.table_uri(settings, DAILY_REPORT), storage_options=settings.reader_storage_options())
    wanted = table.version() if version is None else version
    for entry in table.history():
        if entry.get("version") == wanted:
            return json.loads(entry["lakehouse.source_versions"])
    raise LookupError(f"no commit {wanted} in the history of {DAILY_REPORT.name}")
