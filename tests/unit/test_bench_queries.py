"""The benchmark's polars reports and synthetic silver rows (no services)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from bench import queries
from lakehouse.lake import tables

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_synthetic_chunks_have_the_silver_schemas_and_unique_ids():
    rng = np.random.default_rng(1)
    enriched = queries._enriched_chunk(rng, 10, 1000)
    events = queries._events_chunk(rng, 10, 1000)
    assert enriched.schema == tables.ORDERS_ENRICHED.arrow_schema()
    assert events.schema == tables.ORDER_EVENTS.arrow_schema()
    assert len(set(enriched["event_id"].to_pylist())) == 1000
    assert enriched["event_id"][0].as_py() == "e10"
    assert set(events["event_type"].to_pylist()) <= {*queries._LIFECYCLE, "CANCELLED"}
    assert all(day.startswith("2026-0") for day in enriched["dt"].to_pylist())


def test_funnel_percentiles_are_nearest_rank_like_the_trino_report():
    rows = []
    for n, minutes in enumerate([1, 2, 3, 10]):  # four orders paid 1, 2, 3 and 10 minutes after placing
        order = f"o{n}"
        rows.append({"order_id": order, "event_type": "ORDER_PLACED", "event_time": T0})
        rows.append(
            {"order_id": order, "event_type": "PAYMENT_RECEIVED", "event_time": T0 + timedelta(minutes=minutes)}
        )
    report = queries.polars_order_status_funnel(pl.LazyFrame(rows))
    paid = report.filter(pl.col("event_type") == "PAYMENT_RECEIVED").row(0, named=True)
    assert paid["orders"] == 4
    assert paid["p50_seconds"] == 120.0  # 2nd of 4: the smallest with at least half at or below
    assert paid["p90_seconds"] == 600.0  # 4th of 4
    assert paid["pct_of_placed"] == 100.0


def test_top_categories_keeps_three_per_region_ranked_by_revenue():
    rows = [
        {"region": "EU", "category": c, "amount_eur": amount, "customer_id": "c1"}
        for c, amount in [("a", 1.0), ("b", 4.0), ("c", 3.0), ("d", 2.0)]
    ]
    report = queries.polars_top_categories(pl.LazyFrame(rows))
    assert report["category"].to_list() == ["b", "c", "d"]
    assert report["revenue_rank"].to_list() == [1, 2, 3]
