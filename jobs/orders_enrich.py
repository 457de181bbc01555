"""Enrichment: validate order events, quarantine what breaks the contract, join orders to the
customer and product versions valid at their event time.

transform() only reads the registered sources (src_order_events, src_customers, src_products;
the change records are parsed by the stg_/dim_ views, see lakehouse/sources/cdc.py)
and returns the tables to write; jobs/orders_pipeline.py wires sources and sinks.
"""

from __future__ import annotations

from lakehouse import contract, sql
from lakehouse.lake import tables

VIEWS = (
    "stg_customers",
    "stg_products",
    "dim_customers",
    "dim_products",
    "stg_order_events",
    "int_order_events_occurrence",
    "stg_orders_placed",
    "int_orders_enriched",
    "int_orders_enriched_matched",
)


def register_views(t_env, *, max_record_bytes: int = contract.MAX_RECORD_BYTES) -> None:
    """Create the staging and intermediate views this job and the metrics job build on.

    ``max_record_bytes``: the contract's size limit (Settings.max_record_bytes)."""
    from udfs.currency import to_eur_udf

    t_env.create_temporary_function("to_eur", to_eur_udf())
    for view in VIEWS:
        sql.register_view(t_env, f"flink/{view}", **contract.sql_values(max_record_bytes=max_record_bytes))


def transform(t_env) -> dict[str, object]:
    """Tables for silver.order_events, silver.orders_enriched, bronze.quarantine and bronze.late_events."""
    return {
        tables.ORDER_EVENTS.name: t_env.sql_query(sql.load("flink/silver_order_events")),
        tables.ORDERS_ENRICHED.name: t_env.sql_query(sql.load("flink/silver_orders_enriched")),
        tables.QUARANTINE.name: t_env.sql_query(sql.load("flink/bronze_quarantine", **contract.sql_values())),
        tables.LATE_EVENTS.name: t_env.sql_query(sql.load("flink/bronze_late_events")),
    }
