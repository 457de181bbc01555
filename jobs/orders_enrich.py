"""Enrichment: validate order events, quarantine what breaks the contract, join orders to the
customer and product versions valid at their event time.

transform() is a function of the three source tables (the raw order-event messages and the raw
customers and products change records, see lakehouse/sources/cdc.py): it names them as the
statements in sql/flink/ read them, in a scope of its own (lakehouse.sql.scope), and returns the
tables to write. jobs/orders_pipeline.py wires sources and sinks.
"""

from __future__ import annotations

from lakehouse import contract, sql
from lakehouse.lake import tables

# The views of sql/flink/ built here, in order; each reads only the inputs and the views before it.
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
# The versioned dimensions: one statement for both (sql/flink/dim_versions.sql), from each entity's
# staged changes, with its key and the attributes the join reads.
DIMENSIONS = {
    "dim_customers": {"changes": "stg_customers", "key": "customer_id", "attributes": "name, region, segment"},
    "dim_products": {"changes": "stg_products", "key": "product_id", "attributes": "name, category, price"},
}
# Streams returned beside the tables, for the jobs downstream (not written as they are).
STAGED_EVENTS = "staged_order_events"  # every message parsed and checked: the benchmark's parse-only reference
MATCHED_ORDERS = "matched_orders"  # enriched orders with a live customer and product; event_time is the rowtime


def transform(t_env, order_events, customers, products, *, max_record_bytes: int = contract.MAX_RECORD_BYTES) -> dict:
    """Tables for silver.order_events, silver.orders_enriched, bronze.quarantine and bronze.late_events,
    and the streams ``STAGED_EVENTS`` and ``MATCHED_ORDERS``.

    ``t_env``: the environment the tables belong to; ``order_events``, ``customers``, ``products``:
    tables with the columns of the source DDL (sql/flink/src_order_events.sql, src_changes.sql);
    ``max_record_bytes``: the contract's size limit (Settings.max_record_bytes).
    """
    from udfs.currency import to_eur_udf

    inputs = {"src_order_events": order_events, "src_customers": customers, "src_products": products}
    values = contract.sql_values(max_record_bytes=max_record_bytes)
    with sql.scope(t_env, "orders_enrich", inputs):
        t_env.create_temporary_function("to_eur", to_eur_udf())
        views = {
            view: sql.register_view(t_env, "flink/dim_versions", view=view, **DIMENSIONS[view])
            if view in DIMENSIONS
            else sql.register_view(t_env, f"flink/{view}", **values)
            for view in VIEWS
        }
        result = {
            tables.ORDER_EVENTS.name: t_env.sql_query(sql.load("flink/silver_order_events")),
            tables.ORDERS_ENRICHED.name: t_env.sql_query(sql.load("flink/silver_orders_enriched")),
            tables.QUARANTINE.name: t_env.sql_query(sql.load("flink/bronze_quarantine", **values)),
            tables.LATE_EVENTS.name: t_env.sql_query(sql.load("flink/bronze_late_events")),
            STAGED_EVENTS: views["stg_order_events"],
            MATCHED_ORDERS: views["int_orders_enriched_matched"],
        }
    return result
