"""The lakehouse's tables: name, layer, columns, key and partitioning, in one place.

The job's Delta sinks, the readers and the tests all read these specs, so a column is declared
once, written as in DDL ("name TYPE, ..."). Types are Flink SQL types; ``arrow_schema`` maps them
for Delta.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

_ARROW = {
    "STRING": pa.string(),
    "BIGINT": pa.int64(),
    "INT": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP(3)": pa.timestamp("us", tz="UTC"),
    "DATE": pa.date32(),
}


@dataclass(frozen=True, kw_only=True)
class TableSpec:
    name: str  # layer.table, e.g. silver.orders_enriched
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    description: str = ""

    @property
    def layer(self) -> str:
        return self.name.split(".")[0]

    @property
    def short_name(self) -> str:
        return self.name.split(".")[1]

    @property
    def sink_name(self) -> str:
        """The job's temporary sink table for this Delta table."""
        return "sink_" + self.name.replace(".", "_")

    @property
    def path(self) -> str:
        """Path of the table below the table root."""
        return self.name.replace(".", "/")

    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(name, _ARROW[kind]) for name, kind in self.columns])

    def flink_ddl_columns(self) -> str:
        return ",\n    ".join(f"`{name}` {kind}" for name, kind in self.columns)

    def select_columns(self, table):
        """A PyFlink ``table``'s columns of this spec, by name and in the spec's order.

        An insert matches columns by position; selecting them by name first means a query whose
        columns come out in another order still fills each column with its own values, and one
        that lacks a column fails planning. A table already in the spec's order is returned as it
        is: the extra projection would let the planner merge two of the job's Calc nodes, which
        renumbers the operators after them, hence their uids, and a savepoint would no longer
        restore (docs/DESIGN.md, "Savepoint compatibility")."""
        from pyflink.table.expressions import col

        if list(table.get_resolved_schema().get_column_names()) == self.column_names():
            return table
        return table.select(*[col(name) for name in self.column_names()])


def _columns(declaration: str) -> tuple[tuple[str, str], ...]:
    """Columns written as in DDL, "name TYPE, name TYPE": (name, type) pairs in order."""
    return tuple(tuple(column.split()) for column in declaration.split(","))


_WINDOW_COLUMNS = _columns(
    "window_start TIMESTAMP(3), window_end TIMESTAMP(3), region STRING, category STRING, order_count BIGINT,"
    " revenue_eur DOUBLE, avg_order_value_eur DOUBLE, distinct_customers BIGINT, min_amount_eur DOUBLE,"
    " max_amount_eur DOUBLE"
)


def _metrics(level: str) -> TableSpec:
    return TableSpec(
        name=f"gold.order_metrics_{level}",
        columns=_WINDOW_COLUMNS,
        key=("window_start", "region", "category"),
        description=f"{level} tumbling order metrics; one row per window, region and category",
    )


ORDER_EVENTS = TableSpec(
    name="silver.order_events",
    columns=_columns(
        "event_id STRING, event_type STRING, order_id STRING, event_time TIMESTAMP(3), customer_id STRING,"
        " product_id STRING, quantity INT, amount DOUBLE, currency STRING, payment_id STRING,"
        " warehouse STRING, carrier STRING, signature STRING, cancel_reason STRING, is_late BOOLEAN,"
        " dt STRING"
    ),
    key=("event_id",),
    partition_by=("dt",),
    description="every valid order event, late ones included; one row per event",
)

ORDERS_ENRICHED = TableSpec(
    name="silver.orders_enriched",
    columns=_columns(
        "event_id STRING, order_id STRING, event_time TIMESTAMP(3), customer_id STRING, product_id STRING,"
        " quantity INT, amount DOUBLE, currency STRING, amount_eur DOUBLE, region STRING, segment STRING,"
        " customer_version_ms BIGINT, category STRING, unit_price_eur DOUBLE, product_version_ms BIGINT,"
        " dt STRING"
    ),
    key=("event_id",),
    partition_by=("dt",),
    description="ORDER_PLACED joined to the customer and product versions valid at event time",
)

QUARANTINE = TableSpec(
    name="bronze.quarantine",
    columns=_columns("record_id STRING, source_stream STRING, reason STRING, payload STRING, event_time TIMESTAMP(3)"),
    key=("record_id",),
    description="malformed or out-of-contract records with their raw payload and reason",
)

LATE_EVENTS = TableSpec(
    name="bronze.late_events",
    columns=_columns(
        "event_id STRING, event_type STRING, order_id STRING, event_time TIMESTAMP(3),"
        " watermark_at_arrival TIMESTAMP(3), lateness_seconds BIGINT, payload STRING"
    ),
    key=("event_id",),
    description="valid events that arrived behind the watermark; excluded from joins and windows",
)

METRICS_1M = _metrics("1m")
METRICS_5M = _metrics("5m")
METRICS_1H = _metrics("1h")

ANOMALIES = TableSpec(
    name="gold.anomalies",
    columns=_columns(
        "rule_id STRING, rule_kind STRING, level STRING, window_start TIMESTAMP(3),"
        " window_end TIMESTAMP(3), region STRING, category STRING, metric STRING, observed DOUBLE,"
        " threshold DOUBLE"
    ),
    key=("rule_id", "window_start", "region", "category"),
    description="one row per rule firing on a window, region and category",
)

ORDERS_CURRENT = TableSpec(
    name="gold.orders_current",
    columns=_columns(
        "order_id STRING, status STRING, customer_id STRING, product_id STRING, quantity INT,"
        " amount DOUBLE, currency STRING, amount_eur DOUBLE, payment_id STRING, paid_amount DOUBLE,"
        " paid_currency STRING, warehouse STRING, carrier STRING, signature STRING, cancel_reason STRING,"
        " placed_at TIMESTAMP(3), paid_at TIMESTAMP(3), reserved_at TIMESTAMP(3), shipped_at TIMESTAMP(3),"
        " delivered_at TIMESTAMP(3), cancelled_at TIMESTAMP(3), compensated BOOLEAN, refund_due DOUBLE,"
        " refund_due_eur DOUBLE, event_count INT, duplicate_events INT, late_events INT,"
        " last_event_id STRING, last_event_time TIMESTAMP(3), state_hash STRING"
    ),
    key=("order_id",),
    description="one row per order: its current state folded from silver.order_events",
)

QUALITY_RESULTS = TableSpec(
    name="meta.quality_results",
    # failed_expectations is a JSON list of the failed expectations, warnings included; context is
    # JSON too: the versions of the other tables read, the checks skipped.
    columns=_columns(
        "table_name STRING, table_version BIGINT, suite STRING, success BOOLEAN, evaluated INT,"
        " failed INT, warnings INT, failed_expectations STRING, context STRING, checked_at TIMESTAMP(3),"
        " ge_version STRING"
    ),
    key=("table_name", "table_version", "suite", "checked_at"),
    description="one row per data-quality check of a table version; success=false marks it not validated",
)

# Written by the batch daily report (lakehouse/query/batch_report.py), registered in Trino once it exists.
DAILY_REPORT = TableSpec(
    name="gold.daily_report",
    columns=_columns(
        "day DATE, region STRING, orders BIGINT, revenue_eur DOUBLE, avg_order_value_eur DOUBLE,"
        " customers BIGINT, anomalies BIGINT"
    ),
    key=("day", "region"),
    description="daily report; one row per day (UTC) and region with orders or anomalies",
)

# The tables the Flink job writes; they drive the job's sinks and the reference model.
ALL = (QUARANTINE, LATE_EVENTS, ORDER_EVENTS, ORDERS_ENRICHED, METRICS_1M, METRICS_5M, METRICS_1H, ANOMALIES)
# Tables that Python code derives from those: the order read model (lakehouse/lake/read_model.py, kept
# up to date by its follower, `lakehouse follow`) and the data-quality verdicts (lakehouse/quality/gates.py). Each is
# created by its writer on first use.
DERIVED = (ORDERS_CURRENT, QUALITY_RESULTS)
BY_NAME = {spec.name: spec for spec in (*ALL, *DERIVED)}
