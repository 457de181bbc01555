"""Trino and the batch report on the pipeline's Delta tables in S3, compared with the reference model.

The embedded pipeline writes every table under a unique S3 prefix; Trino (reader identity, local
file metastore) registers them under bronze/silver/gold -- re-pointing those schemas' tables at
this run's prefix -- and every report of sql/trino/ must equal the same report computed in pure
Python from tests/reference.py. The polars batch report must agree row for row with the Trino
report at the same table versions, and Trino's time travel must read what deltalake reads.

26 hours of event time at 0.1 orders/s (about 45,000 events): two days for the daily reports and
more than the 24 hours the hourly report keeps, in about two minutes of pipeline.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from datetime import timedelta
from fractions import Fraction

import polars as pl
import pytest
import trino
from deltalake import DeltaTable

from lakehouse import config, rules
from lakehouse.lake import maintenance, storage, tables
from lakehouse.query import batch_report
from lakehouse.query import trino as lakehouse_trino
from lakehouse.sources import generator
from tests import delta_tool
from tests.compare import diff, read_rows
from tests.integration.stack_support import assert_tables_equal_model, embedded_on_s3, run_embedded, s3_client
from tests.reference import Model
from tests.reference_reports import compare_ordered as _compare
from tests.reference_reports import expected_daily_report

pytestmark = pytest.mark.integration

GEN = generator.GeneratorConfig(minutes=26 * 60, orders_per_second=0.1)
STATUSES = ("ORDER_PLACED", "PAYMENT_RECEIVED", "STOCK_RESERVED", "SHIPPED", "DELIVERED", "CANCELLED")


# --- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def settings(local_stack, tmp_path_factory) -> config.Settings:
    # Short checkpoints and commit polls give every table several versions to time-travel to:
    # the job needs only a few seconds for this input, and a table written only near the end
    # (the temporal join's output) must still span several part files.
    return embedded_on_s3("trino", tmp_path_factory.mktemp("trino"))


@pytest.fixture(scope="module")
def model(settings) -> Model:
    return Model(generator.generate(GEN), rules.load(settings.rules_file))


@pytest.fixture(scope="module")
def pipeline(settings) -> dict[str, int]:
    # The job's sinks commit at every checkpoint (every 200 ms here): every table gets several
    # versions to time-travel to, the first holding fewer rows than the last.
    inserted = run_embedded(settings, GEN)
    assert inserted["silver.order_events"] > 0
    return inserted


@pytest.fixture(scope="module")
def conn(trino_server, pipeline, settings):  # noqa: F811 - pytest injects the imported fixture
    with lakehouse_trino.connect(trino_server) as connection:
        outcome = lakehouse_trino.register_tables(connection, settings)
        assert set(outcome) == {spec.name for spec in tables.ALL}
        yield connection


@pytest.fixture(scope="module")
def batch(conn, settings) -> batch_report.RunResult:
    result = batch_report.run(settings)
    assert result.version is not None, "the first run writes gold.daily_report"
    lakehouse_trino.register_tables(conn, settings, (batch_report.DAILY_REPORT,))
    return result


# --- helpers ---------------------------------------------------------------------------------
def _rows(model: Model, spec: tables.TableSpec) -> list[dict]:
    return list(model.tables[spec.name].values())


def _nearest_rank(sorted_values: list[float], p: Fraction) -> float:
    """The smallest value with at least a fraction p of the values at or below it."""
    return sorted_values[math.ceil(p * len(sorted_values)) - 1]


# --- the reports, computed from the reference model -------------------------------------------
def expected_hourly_revenue_by_region(model: Model) -> list[dict]:
    metrics = _rows(model, tables.METRICS_1H)
    last_hour = max(row["window_start"] for row in metrics)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in metrics:
        if row["window_start"] > last_hour - timedelta(hours=24):
            groups[(row["window_start"], row["region"])].append(row)
    out = []
    for (hour, region), rows in sorted(groups.items()):
        orders = sum(r["order_count"] for r in rows)
        revenue = math.fsum(r["revenue_eur"] for r in rows)
        out.append(
            {
                "hour": hour,
                "region": region,
                "orders": orders,
                "revenue_eur": revenue,
                "avg_order_value_eur": revenue / orders,
            }
        )
    return out


def expected_anomalies_by_rule_and_day(model: Model) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in _rows(model, tables.ANOMALIES):
        groups[(row["window_start"].date(), row["rule_id"])].append(row)
    return [
        {
            "day": day,
            "rule_id": rule_id,
            "rule_kind": rows[0]["rule_kind"],
            "level": rows[0]["level"],
            "firings": len(rows),
            "regions": len({r["region"] for r in rows}),
            "categories": len({r["category"] for r in rows}),
            "first_window_start": min(r["window_start"] for r in rows),
            "last_window_start": max(r["window_start"] for r in rows),
            "max_observed": max(r["observed"] for r in rows),
        }
        for (day, rule_id), rows in sorted(groups.items())
    ]


def expected_top_categories(model: Model) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in _rows(model, tables.ORDERS_ENRICHED):
        groups[(row["region"], row["category"])].append(row)
    by_region: dict[str, list[dict]] = defaultdict(list)
    for (region, category), rows in groups.items():
        revenue = math.fsum(r["amount_eur"] for r in rows)
        by_region[region].append(
            {
                "region": region,
                "category": category,
                "orders": len(rows),
                "revenue_eur": revenue,
                "avg_order_value_eur": revenue / len(rows),
                "customers": len({r["customer_id"] for r in rows}),
            }
        )
    out = []
    for _region, rows in sorted(by_region.items()):
        total = math.fsum(r["revenue_eur"] for r in rows)
        for row in rows:
            row["revenue_rank"] = 1 + sum(1 for other in rows if other["revenue_eur"] > row["revenue_eur"])
            row["share_of_region_revenue"] = row["revenue_eur"] / total
        out += sorted((r for r in rows if r["revenue_rank"] <= 3), key=lambda r: (r["revenue_rank"], r["category"]))
    return out


def expected_order_status_funnel(model: Model) -> list[dict]:
    reached: dict[tuple[str, str], object] = {}
    for row in _rows(model, tables.ORDER_EVENTS):
        key = (row["order_id"], row["event_type"])
        reached[key] = min(reached.get(key, row["event_time"]), row["event_time"])
    placed = {order_id: at for (order_id, status), at in reached.items() if status == "ORDER_PLACED"}
    out = []
    for step, status in enumerate(STATUSES, start=1):
        orders = [(order_id, at) for (order_id, s), at in reached.items() if s == status]
        seconds = sorted((at - placed[o]).total_seconds() for o, at in orders if o in placed)
        out.append(
            {
                "step": step,
                "status": status,
                "orders": len(orders),
                "pct_of_placed": 100.0 * len(orders) / len(placed),
                "timed_orders": len(seconds),
                "avg_seconds": math.fsum(seconds) / len(seconds) if seconds else None,
                "p50_seconds": _nearest_rank(seconds, Fraction(1, 2)) if seconds else None,
                "p90_seconds": _nearest_rank(seconds, Fraction(9, 10)) if seconds else None,
            }
        )
    return out


_EVENT_TIME = {spec.name: "event_time" for spec in (tables.QUARANTINE, tables.LATE_EVENTS, tables.ORDER_EVENTS)}
_EVENT_TIME |= {tables.ORDERS_ENRICHED.name: "event_time", tables.ANOMALIES.name: "window_end"}
_EVENT_TIME |= {spec.name: "window_end" for spec in (tables.METRICS_1M, tables.METRICS_5M, tables.METRICS_1H)}


def expected_data_freshness(model: Model, settings: config.Settings) -> list[dict]:
    out = []
    for spec in sorted(tables.ALL, key=lambda s: s.name):
        rows = _rows(model, spec)
        history = DeltaTable(storage.table_uri(settings, spec), storage_options=settings.storage_options()).history()
        times = [row[_EVENT_TIME[spec.name]] for row in rows if row[_EVENT_TIME[spec.name]] is not None]
        latest_commit_ms = max(entry["timestamp"] for entry in history)
        out.append(
            {
                "table_name": spec.name,
                "row_count": len(rows),
                "latest_event_time": max(times),
                "delta_version": max(entry["version"] for entry in history),
                "latest_commit_time": _utc_ms(latest_commit_ms),
            }
        )
    return out


def _utc_ms(ms: int):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC)


REPORTS = {
    "rpt_hourly_revenue_by_region": (("hour", "region"), lambda m, s: expected_hourly_revenue_by_region(m)),
    "rpt_anomalies_by_rule_and_day": (("day", "rule_id"), lambda m, s: expected_anomalies_by_rule_and_day(m)),
    "rpt_top_categories": (("region", "category"), lambda m, s: expected_top_categories(m)),
    "rpt_order_status_funnel": (("status",), lambda m, s: expected_order_status_funnel(m)),
    "rpt_data_freshness": (("table_name",), expected_data_freshness),
    "rpt_daily_report": (("day", "region"), lambda m, s: expected_daily_report(m)),
}


# --- tests -----------------------------------------------------------------------------------
def test_every_report_has_a_reference():
    assert set(lakehouse_trino.report_names()) == set(REPORTS)


def test_tables_on_s3_equal_the_reference_model(settings, model, pipeline):
    assert_tables_equal_model(settings, model)


def test_registering_again_changes_nothing(conn, settings):
    outcome = lakehouse_trino.register_tables(conn, settings, log=lambda _: None)
    assert outcome == {spec.name: "unchanged" for spec in tables.ALL}


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_trino_report_equals_the_reference_model(conn, settings, model, report):
    key, expected_of = REPORTS[report]
    expected = expected_of(model, settings)
    actual = lakehouse_trino.query(conn, lakehouse_trino.load_report(report)).dicts()
    print(f"{report}: {len(actual)} rows")
    assert len(expected) > 1, "a report with at most one row would not show a grouping mistake"
    problems = _compare(report, actual, expected, key)
    assert not problems, "\n".join(problems)


def test_hourly_revenue_keeps_the_last_24_hours_of_data(conn):
    hours = {
        row["hour"]
        for row in lakehouse_trino.query(conn, lakehouse_trino.load_report("rpt_hourly_revenue_by_region")).dicts()
    }
    assert len(hours) == 24, "26 hours of data in, the last 24 out"
    assert max(hours) - min(hours) == timedelta(hours=23)


def test_batch_report_and_trino_agree_row_for_row_at_the_same_versions(conn, settings, model, batch):
    key = batch_report.DAILY_REPORT.key
    batch_rows = batch.report.to_dicts()
    pinned_sql = lakehouse_trino.pin_versions(lakehouse_trino.load_report("rpt_daily_report"), batch.source_versions)
    trino_rows = lakehouse_trino.query(conn, pinned_sql).dicts()
    problems = _compare("batch vs trino", batch_rows, trino_rows, key)
    # What the batch job wrote, read back by Trino, and the reference model agree too.
    written = lakehouse_trino.query(conn, "select * from gold.daily_report order by day, region").dicts()
    problems += _compare("gold.daily_report vs batch", written, batch_rows, key)
    problems += _compare("batch vs reference", batch_rows, expected_daily_report(model), key)
    assert not problems, "\n".join(problems)
    assert len({row["day"] for row in batch_rows}) == 2


def test_batch_report_at_older_versions_agrees_with_trino_time_travel(conn, settings, batch):
    older = {name: 1 for name in batch.source_versions}  # the first commit with rows
    assert older != batch.source_versions, "the pipeline made several commits per table"
    result = batch_report.run(settings, older, write=False)
    pinned_sql = lakehouse_trino.pin_versions(lakehouse_trino.load_report("rpt_daily_report"), older)
    problems = _compare(
        "batch vs trino @v1",
        result.report.to_dicts(),
        lakehouse_trino.query(conn, pinned_sql).dicts(),
        batch_report.DAILY_REPORT.key,
    )
    assert not problems, "\n".join(problems)
    assert sum(result.report["orders"]) < sum(batch.report["orders"]), "version 1 holds fewer orders than the latest"


def test_batch_report_on_the_same_versions_writes_nothing(settings, batch):
    table = DeltaTable(
        storage.table_uri(settings, batch_report.DAILY_REPORT), storage_options=settings.storage_options()
    )
    again = batch_report.run(settings)
    assert again.version is None
    assert DeltaTable(table.table_uri, storage_options=settings.storage_options()).version() == table.version()
    assert batch_report.source_versions_of(settings) == batch.source_versions


@pytest.mark.parametrize("spec", [tables.ORDER_EVENTS, tables.ANOMALIES], ids=lambda s: s.name)
def test_trino_time_travel_reads_what_deltalake_reads(conn, settings, spec):
    uri = storage.table_uri(settings, spec)
    options = settings.storage_options()
    latest = DeltaTable(uri, storage_options=options).version()
    assert latest >= 2, "needs an older version with rows"
    for version in range(latest + 1):
        count = lakehouse_trino.query(conn, f"select count(*) from {spec.name} for version as of {version}").rows[0][0]
        assert count == DeltaTable(uri, version=version, storage_options=options).count(), f"{spec.name}@v{version}"
    older = latest // 2 or 1
    rows = lakehouse_trino.query(conn, f"select * from {spec.name} for version as of {older}").dicts()
    expected = {tuple(r[k] for k in spec.key): r for r in read_rows(uri, spec, storage_options=options, version=older)}
    assert 0 < len(rows) < DeltaTable(uri, storage_options=options).count()
    problems = diff(spec, rows, expected)
    assert not problems, "\n".join(problems)


def test_trino_cannot_write_to_s3(conn, settings):
    with pytest.raises(trino.exceptions.TrinoQueryError):
        lakehouse_trino.query(conn, "create table gold.trino_write_probe as select 1 as a")
    bucket, prefix = settings.tables_uri().removeprefix("s3://").split("/", 1)
    s3 = s3_client(
        settings, access_key=os.environ["S3_WRITER_ACCESS_KEY"], secret_key=os.environ["S3_WRITER_SECRET_KEY"]
    )
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/gold/")
    assert not [item["Key"] for item in listed.get("Contents", []) if "trino_write_probe" in item["Key"]]
    assert "trino_write_probe" not in {row[0] for row in lakehouse_trino.query(conn, "show tables from gold").rows}


def test_every_reader_reads_log_checkpoints_of_delta_rs_and_of_the_sink(conn, settings):
    # Runs last: it adds rows to silver.order_events. delta-rs writes a Parquet checkpoint
    # (`lakehouse maintain`); the job's sink reads it (its txn state), commits after it and writes
    # its own checkpoint of that commit (interval 1). Trino, polars and delta-rs then read both.
    spec = tables.ORDER_EVENTS
    uri, options = storage.table_uri(settings, spec), settings.storage_options()
    before = DeltaTable(uri, storage_options=options).count()
    [result] = maintenance.maintain(settings, specs=(spec,))
    extra = [
        {**row, "event_id": f"X{i:06d}", "order_id": f"X{i:06d}"}
        for i, row in enumerate(delta_tool.sample_events(25), start=1)
    ]
    env = {"AWS_ACCESS_KEY_ID": settings.s3_access_key, "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key}
    appended = delta_tool.append(
        uri,
        spec,
        extra,
        app_id="after-checkpoint/0",
        s3_endpoint=settings.s3_endpoint,
        env=env,
        deliveries=2,
        checkpoint_interval=1,
    )
    assert [r["skipped"] for r in appended] == [0, 1]
    table = DeltaTable(uri, storage_options=options)
    assert table.version() == result.checkpoint_version + 1, "one commit after the checkpoint"
    fs, root = storage.filesystem(uri, settings)
    last = json.loads(fs.open_input_stream(f"{root}/_delta_log/_last_checkpoint").read())
    assert last["version"] == table.version(), "the sink wrote the checkpoint of its commit"
    expected = before + len(extra)
    assert table.count() == expected
    assert pl.read_delta(uri, storage_options=options).height == expected
    assert lakehouse_trino.query(conn, f"select count(*) from {spec.name}").rows[0][0] == expected
    at_checkpoint = f"select count(*) from {spec.name} for version as of {result.checkpoint_version}"
    assert lakehouse_trino.query(conn, at_checkpoint).rows[0][0] == before
    ids = {r[0] for r in lakehouse_trino.query(conn, f"select event_id from {spec.name} where event_id like 'X%'").rows}
    assert ids == {row["event_id"] for row in extra}
