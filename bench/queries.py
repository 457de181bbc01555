"""Report query latency: Trino and polars on the same synthetic silver Delta tables on S3.

The silver tables get synthetic rows written with deltalake directly (the table specs of
lakehouse/lake/tables.py): ``rows`` placed orders in silver.orders_enriched and ``rows`` order events
in silver.order_events (orders of five events each), 30 days of event time, so both engines scan
the same files. Three reports of sql/trino/ run on Trino; the same reports are written in polars
below (the daily report is lakehouse/query/batch_report.py's own transform).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import write_deltalake

from lakehouse.config import Settings
from lakehouse.lake import storage, tables
from lakehouse.pipeline import flink_cluster
from lakehouse.query import batch_report
from lakehouse.query import trino as lakehouse_trino
from lakehouse.sources import generator

Log = Callable[[str], None]
REPORTS = ("rpt_top_categories", "rpt_order_status_funnel", "rpt_daily_report")
CHUNK = 1_000_000
DAYS = 30
_LIFECYCLE = ("ORDER_PLACED", "PAYMENT_RECEIVED", "STOCK_RESERVED", "SHIPPED", "DELIVERED")


def _timestamps(ms: np.ndarray) -> pa.Array:
    return pa.array(ms * 1000, pa.timestamp("us", tz="UTC"))


def _dt(ms: np.ndarray) -> pa.Array:
    days = (ms // generator.DAY_MS).astype("int32")
    first = int(days.min())
    labels = pa.array(np.datetime_as_string(np.arange(first, int(days.max()) + 1).astype("datetime64[D]")))
    return _pick(labels, days - first)


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    """prefix + number as strings, built in Arrow (Python f-strings take most of the time at 10M rows)."""
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _pick(choices, index: np.ndarray) -> pa.Array:
    """choices[index] as a plain string array."""
    values = choices if isinstance(choices, pa.Array) else pa.array(list(choices))
    return pa.DictionaryArray.from_arrays(pa.array(index.astype("int32")), values).cast(pa.string())


def _enriched_chunk(rng: np.random.Generator, start: int, n: int) -> pa.Table:
    ids = np.arange(start, start + n)
    ms = generator.DEFAULT_START_MS + rng.integers(0, DAYS * generator.DAY_MS, n)
    amount = rng.gamma(2.0, 40.0, n).round(2)
    columns = {
        "event_id": _ids("e", ids),
        "order_id": _ids("o", ids),
        "event_time": _timestamps(ms),
        "customer_id": _ids("c", rng.integers(0, 50_000, n)),
        "product_id": _ids("p", rng.integers(0, 500, n)),
        "quantity": pa.array(rng.integers(1, 5, n).astype("int32")),
        "amount": pa.array(amount),
        "currency": _pick(("EUR", "USD", "GBP"), rng.integers(0, 3, n)),
        "amount_eur": pa.array(amount * 0.97),
        "region": _pick(generator.REGIONS, rng.integers(0, len(generator.REGIONS), n)),
        "segment": _pick(("consumer", "business"), rng.integers(0, 2, n)),
        "customer_version_ms": pa.array(ms - 86_400_000),
        "category": _pick(generator.CATEGORIES, rng.integers(0, len(generator.CATEGORIES), n)),
        "unit_price_eur": pa.array((amount / 2).round(2)),
        "product_version_ms": pa.array(ms - 86_400_000),
        "dt": _dt(ms),
    }
    return pa.table(columns).cast(tables.ORDERS_ENRICHED.arrow_schema())


def _events_chunk(rng: np.random.Generator, start: int, n: int) -> pa.Table:
    rows = np.arange(start, start + n)
    order = rows // len(_LIFECYCLE)
    step = rows % len(_LIFECYCLE)
    placed = generator.DEFAULT_START_MS + (order * 7919) % (DAYS * generator.DAY_MS)
    ms = placed + step * rng.integers(60_000, 3_600_000, n)
    cancelled = (order % 20 == 0) & (step == len(_LIFECYCLE) - 1)
    types = np.where(cancelled, len(_LIFECYCLE), step)
    none = pa.nulls(n, pa.string())
    columns = {
        "event_id": _ids("e", rows),
        "event_type": _pick((*_LIFECYCLE, "CANCELLED"), types),
        "order_id": _ids("o", order),
        "event_time": _timestamps(ms),
        "customer_id": _ids("c", order % 50_000),
        "product_id": _ids("p", order % 500),
        "quantity": pa.array((order % 4 + 1).astype("int32")),
        "amount": pa.array((order % 997) / 10 + 1.0),
        "currency": _pick(("EUR", "USD", "GBP"), order % 3),
        "payment_id": none,
        "warehouse": none,
        "carrier": none,
        "signature": none,
        "cancel_reason": none,
        "is_late": pa.array(np.zeros(n, dtype=bool)),
        "dt": _dt(ms),
    }
    return pa.table(columns).cast(tables.ORDER_EVENTS.arrow_schema())


def write_synthetic_silver(settings: Settings, rows: int, *, already: int = 0, log: Log, seed: int = 7) -> float:
    """Grow each silver table from ``already`` to ``rows`` rows (gold.anomalies stays empty);
    return the seconds taken."""
    started = time.monotonic()
    storage.ensure_tables(settings, (tables.ORDERS_ENRICHED, tables.ORDER_EVENTS, tables.ANOMALIES))
    options = settings.storage_options()
    for start in range(already, rows, CHUNK):
        n = min(CHUNK, rows - start)
        rng = np.random.default_rng(seed + start)
        for spec, chunk in (
            (tables.ORDERS_ENRICHED, _enriched_chunk(rng, start, n)),
            (tables.ORDER_EVENTS, _events_chunk(rng, start, n)),
        ):
            write_deltalake(storage.table_uri(settings, spec), chunk, mode="append", storage_options=options)
    seconds = time.monotonic() - started
    log(f"synthetic silver: {already:,} -> {rows:,} rows per table in {seconds:.1f}s")
    return seconds


# --- the reports in polars -------------------------------------------------------------------------


def polars_top_categories(enriched: pl.LazyFrame) -> pl.DataFrame:
    by = enriched.group_by("region", "category").agg(
        orders=pl.len(), revenue_eur=pl.col("amount_eur").sum(), customers=pl.col("customer_id").n_unique()
    )
    ranked = by.with_columns(
        revenue_rank=pl.col("revenue_eur").rank("min", descending=True).over("region"),
        share_of_region_revenue=pl.col("revenue_eur") / pl.col("revenue_eur").sum().over("region"),
        avg_order_value_eur=pl.col("revenue_eur") / pl.col("orders"),
    )
    return ranked.filter(pl.col("revenue_rank") <= 3).sort("region", "revenue_rank", "category").collect()


def polars_order_status_funnel(events: pl.LazyFrame) -> pl.DataFrame:
    reached = events.group_by("order_id", "event_type").agg(reached_at=pl.col("event_time").min())
    placed = reached.filter(pl.col("event_type") == "ORDER_PLACED").select("order_id", placed_at="reached_at")
    timed = reached.join(placed, on="order_id").with_columns(
        seconds=(pl.col("reached_at") - pl.col("placed_at")).dt.total_milliseconds() / 1e3
    )

    def nearest_rank(p: float) -> pl.Expr:
        ordered = pl.col("seconds").sort()
        return ordered.gather((pl.len() * p).ceil().cast(pl.Int64) - 1).first()

    durations = timed.group_by("event_type").agg(
        timed_orders=pl.len(),
        avg_seconds=pl.col("seconds").mean(),
        p50_seconds=nearest_rank(0.5),
        p90_seconds=nearest_rank(0.9),
    )
    counts = reached.group_by("event_type").agg(orders=pl.len())
    placed_orders = placed.select(pl.len()).collect().item()
    return (
        counts.join(durations, on="event_type", how="left")
        .with_columns(pct_of_placed=100.0 * pl.col("orders") / placed_orders)
        .sort("event_type")
        .collect()
    )


def _polars(settings: Settings, report: str) -> pl.DataFrame:
    options = settings.reader_storage_options() or None

    def scan(spec: tables.TableSpec) -> pl.LazyFrame:
        return pl.scan_delta(storage.table_uri(settings, spec), storage_options=options)

    if report == "rpt_top_categories":
        return polars_top_categories(scan(tables.ORDERS_ENRICHED))
    if report == "rpt_order_status_funnel":
        return polars_order_status_funnel(scan(tables.ORDER_EVENTS))
    return batch_report.transform(scan(tables.ORDERS_ENRICHED), scan(tables.ANOMALIES))


def trino_running() -> bool:
    status = subprocess.run(
        [str(flink_cluster.REPO / "infra" / "trino" / "trino.sh"), "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env=flink_cluster.clean_environment(),
    )
    return status.returncode == 0


def start_trino(*, log: Log) -> None:
    env = flink_cluster.clean_environment()
    started = subprocess.run(
        [str(flink_cluster.REPO / "infra" / "trino" / "trino.sh"), "start"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    if started.returncode != 0:
        raise RuntimeError(f"trino.sh start failed: {started.stderr[-2000:]}")
    log(started.stderr.strip().splitlines()[-1] if started.stderr.strip() else "trino started")


def stop_trino() -> None:
    subprocess.run(
        [str(flink_cluster.REPO / "infra" / "trino" / "trino.sh"), "stop"],
        capture_output=True,
        text=True,
        timeout=300,
        env=flink_cluster.clean_environment(),
    )


def _timed(call: Callable[[], object], repeats: int) -> tuple[list[float], object, str | None]:
    times, result = [], None
    for _ in range(repeats):
        started = time.monotonic()
        try:
            result = call()
        except Exception as error:  # noqa: BLE001 - a failed query is a result too
            return times, None, str(error).splitlines()[0][:200]
        times.append(time.monotonic() - started)
    return times, result, None


def query_latency(settings: Settings, rows: int, *, repeats: int, log: Log) -> list[dict]:
    """Each report on Trino and in polars: the first run (cold) and the best of the others."""
    results = []
    with lakehouse_trino.connect() as conn:
        lakehouse_trino.register_tables(
            conn, settings, (tables.ORDERS_ENRICHED, tables.ORDER_EVENTS, tables.ANOMALIES), log=log
        )
        for report in REPORTS:
            statement = lakehouse_trino.load_report(report)
            engines = {
                "trino": lambda s=statement: lakehouse_trino.query(conn, s).rows,
                "polars": lambda r=report: _polars(settings, r),
            }
            for engine, call in engines.items():
                times, result, error = _timed(call, repeats)
                row = {
                    "report": report,
                    "rows": rows,
                    "engine": engine,
                    "first_s": times[0] if times else None,
                    "best_s": min(times[1:]) if len(times) > 1 else None,
                    "result_rows": len(result) if result is not None else None,
                    "error": error,
                }
                log(f"{report} on {engine} at {rows:,} rows: {row}")
                results.append(row)
    return results
