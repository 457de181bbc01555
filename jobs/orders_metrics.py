"""Metrics: 1-minute tumbling order metrics by region and category, cascaded to 5 minutes and
1 hour from per-customer 1-minute partials. Builds on the views of jobs/orders_enrich.py."""

from __future__ import annotations

from lakehouse import sql
from lakehouse.lake import tables

ROLLUPS = {"5m": 5, "1h": 60}
SPECS = {"1m": tables.METRICS_1M, "5m": tables.METRICS_5M, "1h": tables.METRICS_1H}


def register_views(t_env) -> None:
    """Create fct_order_metrics_1m, _5m and _1h (window_time kept as the rowtime)."""
    sql.register_view(t_env, "flink/int_order_metrics_1m_customer")
    sql.register_view(t_env, "flink/fct_order_metrics_1m")
    for level, minutes in ROLLUPS.items():
        sql.register_view(
            t_env,
            "flink/fct_order_metrics_rollup",
            view=f"fct_order_metrics_{level}",
            window_minutes=minutes,
        )


def transform(t_env) -> dict[str, object]:
    """Tables for gold.order_metrics_1m, _5m and _1h."""
    return {
        spec.name: t_env.sql_query(sql.load("flink/gold_order_metrics", level=level)) for level, spec in SPECS.items()
    }
