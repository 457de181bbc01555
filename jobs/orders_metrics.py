"""Metrics: 1-minute tumbling order metrics by region and category, cascaded to 5 minutes and
1 hour from per-customer 1-minute partials.

transform() is a function of the enriched orders (jobs/orders_enrich.py's ``MATCHED_ORDERS``): it
names them as sql/flink/ reads them, in a scope of its own, and returns the gold tables and the
window streams the anomaly rules read.
"""

from __future__ import annotations

from lakehouse import sql
from lakehouse.lake import tables

ROLLUPS = {"5m": 5, "1h": 60}
SPECS = {"1m": tables.METRICS_1M, "5m": tables.METRICS_5M, "1h": tables.METRICS_1H}
# Streams returned beside the tables, per level: the window metrics with window_time kept as the
# rowtime (jobs/orders_anomalies.py orders its trailing windows by it).
WINDOWS = {level: f"windows_{level}" for level in SPECS}


def transform(t_env, orders) -> dict:
    """Tables for gold.order_metrics_1m, _5m and _1h, and the streams ``WINDOWS``.

    ``orders``: enriched orders with event_time as the rowtime (batch mode: a timestamp), customer_id,
    region, category and amount_eur (sql/flink/int_orders_enriched_matched.sql)."""
    with sql.scope(t_env, "orders_metrics", {"int_orders_enriched_matched": orders}):
        sql.register_view(t_env, "flink/int_order_metrics_1m_customer")
        windows = {"1m": sql.register_view(t_env, "flink/fct_order_metrics_1m")}
        for level, minutes in ROLLUPS.items():
            windows[level] = sql.register_view(
                t_env, "flink/fct_order_metrics_rollup", view=f"fct_order_metrics_{level}", window_minutes=minutes
            )
        result = {
            spec.name: t_env.sql_query(sql.load("flink/gold_order_metrics", level=level))
            for level, spec in SPECS.items()
        }
        result |= {stream: windows[level] for level, stream in WINDOWS.items()}
    return result
