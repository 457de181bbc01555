"""The great-expectations suites, one per table: what each table's rows must satisfy.

A suite is a list of ``Check``: one pandas frame and the expectations it must meet. Most checks run
on the table's rows; the cross-table ones run on a frame derived from the table and its
neighbours (the 1-minute windows a 5-minute row must add up from, the metric row an anomaly
names, the dimension versions an enriched order joined). Derived columns are computed here in
pandas and named for what they assert, so a failure reads as a sentence. ``docs/quality.md``
explains every check.

Severity: every expectation is critical (a failure marks the table version as not validated)
unless it says ``severity="warning"`` (reported and recorded, but not blocking).

The suites live by layer (bronze_suites, silver_suites, gold_suites), written with the helpers of
expectations; this module maps each table to its suite.
"""

from __future__ import annotations

from collections.abc import Callable

from lakehouse.lake import read_model, tables
from lakehouse.quality.bronze_suites import SOURCE_STREAMS, late_events, quarantine
from lakehouse.quality.expectations import Check, Inputs
from lakehouse.quality.gold_suites import LEVEL_MS, METRICS_BY_LEVEL, anomalies, metrics, orders_current, window_sums
from lakehouse.quality.silver_suites import REQUIRED_BY_TYPE, dimension_history, order_events, orders_enriched

__all__ = [
    "LEVEL_MS",
    "METRICS_BY_LEVEL",
    "REQUIRED_BY_TYPE",
    "SOURCE_STREAMS",
    "SUITES",
    "Check",
    "Inputs",
    "anomalies",
    "dimension_history",
    "late_events",
    "metrics",
    "order_events",
    "orders_current",
    "orders_enriched",
    "quarantine",
    "window_sums",
]

SUITES: dict[str, Callable[[Inputs], list[Check]]] = {
    tables.QUARANTINE.name: quarantine,
    tables.LATE_EVENTS.name: late_events,
    tables.ORDER_EVENTS.name: order_events,
    tables.ORDERS_ENRICHED.name: orders_enriched,
    tables.METRICS_1M.name: metrics("1m"),
    tables.METRICS_5M.name: metrics("5m"),
    tables.METRICS_1H.name: metrics("1h"),
    tables.ANOMALIES.name: anomalies,
    read_model.ORDERS_CURRENT.name: orders_current,
}
