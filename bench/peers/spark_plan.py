"""The Spark peer's plan: pure functions from DataFrames to DataFrames, batch or streaming alike.
Kafka records are staged and checked in the contract's order, the dimension change topics become
versions with a validity range, orders are enriched by the version valid at their event time, and
1-minute windows are counted; bench/peers/spark_streaming.py runs them as streaming queries."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse import contract
from lakehouse.lake import tables

ORDER_FIELDS = tuple(field.name for field in contract.FIELDS)  # an order event's JSON fields
_CORRUPT = "_corrupt_record"
# Every field as a string: a value of the wrong JSON type is still read (as its JSON text), so the
# contract can name it ("wrong type: ts_ms") instead of losing it.
ORDER_SCHEMA = T.StructType(
    [T.StructField(name, T.StringType()) for name in ORDER_FIELDS] + [T.StructField(_CORRUPT, T.StringType())]
)
_SPARK_TYPES = {
    "STRING": T.StringType(),
    "BIGINT": T.LongType(),
    "INT": T.IntegerType(),
    "DOUBLE": T.DoubleType(),
    "BOOLEAN": T.BooleanType(),
    "TIMESTAMP(3)": T.TimestampType(),
}
PEER_TABLES = (tables.ORDER_EVENTS, tables.ORDERS_ENRICHED, tables.QUARANTINE, tables.METRICS_1M)


def spark_schema(spec: tables.TableSpec) -> T.StructType:
    """A table spec's columns as a Spark schema."""
    return T.StructType([T.StructField(name, _SPARK_TYPES[kind]) for name, kind in spec.columns])


def staged_orders(raw: DataFrame) -> DataFrame:
    """Kafka records (value, timestamp) -> one row per record with typed fields and ``reason``,
    null for a valid event, else the first broken rule in the contract's order."""
    payload = F.col("value").cast("string")
    parsed = raw.select(
        payload.alias("payload"),
        F.col("timestamp").alias("arrival_time"),
        F.from_json(payload, ORDER_SCHEMA, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT}).alias("j"),
    ).select("payload", "arrival_time", "j.*")
    # The payload's ``reason`` is a cancellation's; ``reason`` below is the rejection's.
    typed = (
        parsed.withColumnRenamed("reason", "cancel_reason")
        .withColumn("is_json", F.col(_CORRUPT).isNull() & F.col("payload").isNotNull())
        .withColumn("ts", F.col("ts_ms").try_cast("bigint"))
        .withColumn("quantity_int", F.col("quantity").try_cast("int"))
        .withColumn("amount_double", F.col("amount").try_cast("double"))
        .withColumn("event_time", F.timestamp_millis(F.col("ts")))
    )
    return typed.withColumn("reason", _reason(typed))


def _rules() -> list[tuple[Column, str]]:
    """The contract's checks, in order (sql/flink/stg_order_events.sql applies the same ones)."""
    c = F.col
    kind = c("event_type")
    placed = kind == "ORDER_PLACED"
    priced = kind.isin("ORDER_PLACED", "PAYMENT_RECEIVED")
    skew = F.make_dt_interval(hours=F.lit(contract.MAX_FUTURE_SKEW_HOURS))
    rules: list[tuple[Column, str]] = [(~c("is_json"), contract.REASON_BAD_JSON)]
    rules += [(c(name).isNull(), contract.reason_missing(name)) for name in ("event_id", "event_type", "order_id")]
    rules += [
        (c("ts_ms").isNull(), contract.reason_missing("ts_ms")),
        (c("ts").isNull(), contract.reason_wrong_type("ts_ms")),
        (~kind.isin(*contract.EVENT_TYPES), contract.REASON_UNKNOWN_TYPE),
        (c("event_time") > c("arrival_time") + skew, contract.REASON_FUTURE),
        (placed & c("customer_id").isNull(), contract.reason_missing("customer_id")),
        (placed & c("product_id").isNull(), contract.reason_missing("product_id")),
        (placed & c("quantity").isNull(), contract.reason_missing("quantity")),
        (placed & c("quantity_int").isNull(), contract.reason_wrong_type("quantity")),
        (placed & (c("quantity_int") <= 0), contract.REASON_NON_POSITIVE_QUANTITY),
        (priced & c("amount").isNull(), contract.reason_missing("amount")),
        (priced & c("amount_double").isNull(), contract.reason_wrong_type("amount")),
        (priced & (c("amount_double") <= 0), contract.REASON_NON_POSITIVE_AMOUNT),
        (priced & c("currency").isNull(), contract.reason_missing("currency")),
        (priced & ~c("currency").isin(*contract.CURRENCIES), contract.REASON_UNKNOWN_CURRENCY),
    ]
    for event_type, column, name in (
        ("PAYMENT_RECEIVED", "payment_id", "payment_id"),
        ("STOCK_RESERVED", "warehouse", "warehouse"),
        ("SHIPPED", "carrier", "carrier"),
        ("CANCELLED", "cancel_reason", "reason"),
    ):
        rules.append(((kind == event_type) & c(column).isNull(), contract.reason_missing(name)))
    return rules


def _reason(df: DataFrame) -> Column:
    rules = _rules()
    expression = F.when(rules[0][0], F.lit(rules[0][1]))
    for condition, reason in rules[1:]:
        # A null condition (a comparison with a null field) is not a match, as in SQL's CASE.
        expression = expression.when(F.coalesce(condition, F.lit(False)), F.lit(reason))
    return expression


def silver_events(staged: DataFrame) -> DataFrame:
    """silver.order_events: every valid event as typed columns (``is_late`` unknown here: null)."""
    return staged.where(F.col("reason").isNull()).select(
        "event_id",
        "event_type",
        "order_id",
        "event_time",
        "customer_id",
        "product_id",
        F.col("quantity_int").alias("quantity"),
        F.col("amount_double").alias("amount"),
        "currency",
        "payment_id",
        "warehouse",
        "carrier",
        "signature",
        "cancel_reason",
        F.lit(None).cast("boolean").alias("is_late"),
        F.date_format("event_time", "yyyy-MM-dd").alias("dt"),
    )


def contract_rejects(staged: DataFrame) -> DataFrame:
    """bronze.quarantine rows for records that broke the contract (raw payload and reason)."""
    trusted_time = F.col("ts").isNotNull() & ~F.col("reason").isin(contract.REASON_FUTURE, contract.REASON_BAD_JSON)
    return staged.where(F.col("reason").isNotNull()).select(
        F.md5("payload").alias("record_id"),
        F.lit("order-events").alias("source_stream"),
        "reason",
        "payload",
        F.when(trusted_time, F.col("event_time")).alias("event_time"),
    )


def dimension_versions(raw: DataFrame, *, key: str, attributes: dict[str, str]) -> DataFrame:
    """A Debezium change topic read as a batch -> one row per version of a key with its validity
    range [updated_at, valid_to) in epoch ms and ``is_deleted`` (rules of lakehouse/sources/cdc.py)."""
    payload = F.col("value").cast("string")
    envelope = F.when(
        F.get_json_object(payload, "$.schema").isNotNull() & F.get_json_object(payload, "$.payload").isNotNull(),
        F.get_json_object(payload, "$.payload"),
    ).otherwise(payload)
    op = F.get_json_object(envelope, "$.op")
    deleted = op == "d"
    changes = raw.where(F.col("value").isNotNull()).select(
        F.col("partition"),
        F.col("offset"),
        op.alias("op"),
        F.when(deleted, F.get_json_object(envelope, f"$.before.{key}"))
        .otherwise(F.get_json_object(envelope, f"$.after.{key}"))
        .alias(key),
        F.when(
            deleted,
            F.coalesce(F.get_json_object(envelope, "$.source.ts_ms"), F.get_json_object(envelope, "$.ts_ms")),
        )
        .otherwise(F.get_json_object(envelope, "$.after.updated_at"))
        .try_cast("bigint")
        .alias("updated_at"),
        deleted.alias("is_deleted"),
        *(
            F.get_json_object(envelope, f"$.after.{name}").try_cast(kind).alias(name)
            for name, kind in attributes.items()
        ),
    )
    usable = changes.where(
        F.col("op").isin("c", "u", "r", "d") & F.col(key).isNotNull() & F.col("updated_at").isNotNull()
    )
    # Two changes of one key at the same time: the later in the topic (the LSN order) wins.
    from pyspark.sql.window import Window

    latest = Window.partitionBy(key, "updated_at").orderBy(F.col("partition").desc(), F.col("offset").desc())
    by_time = Window.partitionBy(key).orderBy("updated_at")
    return (
        usable.withColumn("n", F.row_number().over(latest))
        .where("n = 1")
        .withColumn("valid_to", F.lead("updated_at").over(by_time))
        .drop("n", "op", "partition", "offset")
    )


def enrich(orders: DataFrame, customers: DataFrame, products: DataFrame) -> DataFrame:
    """Each ORDER_PLACED event left-joined to the customer and product versions valid at its event
    time; ``matched_*`` is null when there is none or it is a delete."""
    o = orders.where(F.col("event_type") == "ORDER_PLACED").alias("o")
    c = customers.alias("c")
    p = products.alias("p")
    at = F.col("o.ts")

    def valid(side: str, key: str) -> Column:
        return (
            (F.col(f"o.{key}") == F.col(f"{side}.{key}"))
            & (F.col(f"{side}.updated_at") <= at)
            & (F.col(f"{side}.valid_to").isNull() | (at < F.col(f"{side}.valid_to")))
        )

    rates = F.create_map(*(F.lit(x) for pair in contract.RATES_PER_EUR.items() for x in pair))
    joined = o.join(F.broadcast(c), valid("c", "customer_id"), "left").join(
        F.broadcast(p), valid("p", "product_id"), "left"
    )
    return joined.select(
        F.col("o.event_id").alias("event_id"),
        F.col("o.order_id").alias("order_id"),
        F.col("o.event_time").alias("event_time"),
        F.col("o.customer_id").alias("customer_id"),
        F.col("o.product_id").alias("product_id"),
        F.col("o.quantity_int").alias("quantity"),
        F.col("o.amount_double").alias("amount"),
        F.col("o.currency").alias("currency"),
        # Python's round(amount / rate, 2), as udfs/currency.py: no amount here is a decimal tie.
        F.round(F.col("o.amount_double") / rates[F.col("o.currency")], 2).alias("amount_eur"),
        F.col("c.region").alias("region"),
        F.col("c.segment").alias("segment"),
        F.col("c.updated_at").alias("customer_version_ms"),
        F.col("p.category").alias("category"),
        F.col("p.price").alias("unit_price_eur"),
        F.col("p.updated_at").alias("product_version_ms"),
        F.date_format(F.col("o.event_time"), "yyyy-MM-dd").alias("dt"),
        F.when(~F.col("c.is_deleted"), F.col("c.customer_id")).alias("matched_customer_id"),
        F.when(~F.col("p.is_deleted"), F.col("p.product_id")).alias("matched_product_id"),
        F.col("o.payload").alias("payload"),
    )


def enriched_rows(enriched: DataFrame) -> DataFrame:
    """silver.orders_enriched: the orders whose customer and product existed at their event time."""
    matched = F.col("matched_customer_id").isNotNull() & F.col("matched_product_id").isNotNull()
    return enriched.where(matched).select(*tables.ORDERS_ENRICHED.column_names())


def enrichment_rejects(enriched: DataFrame) -> DataFrame:
    """bronze.quarantine rows for orders whose customer or product did not exist at their event time."""
    return enriched.where(F.col("matched_customer_id").isNull() | F.col("matched_product_id").isNull()).select(
        F.md5("payload").alias("record_id"),
        F.lit("order-events").alias("source_stream"),
        F.when(F.col("matched_customer_id").isNull(), F.lit(contract.REASON_UNKNOWN_CUSTOMER))
        .otherwise(F.lit(contract.REASON_UNKNOWN_PRODUCT))
        .alias("reason"),
        "payload",
        "event_time",
    )


def metrics_1m(enriched: DataFrame) -> DataFrame:
    """gold.order_metrics_1m: 1-minute tumbling windows per region and category behind a watermark
    of the contract's delay; a window is emitted once, when the watermark passes its end."""
    windowed = (
        enriched.withWatermark("event_time", f"{contract.WATERMARK_DELAY_MS} milliseconds")
        .groupBy(F.window("event_time", "1 minute"), "region", "category")
        .agg(
            F.count(F.lit(1)).alias("order_count"),
            F.sum("amount_eur").alias("revenue_eur"),
            F.size(F.collect_set("customer_id")).cast("bigint").alias("distinct_customers"),
            F.min("amount_eur").alias("min_amount_eur"),
            F.max("amount_eur").alias("max_amount_eur"),
        )
    )
    return windowed.select(
        F.col("window.start").alias("window_start"),
        F.col("window.end").alias("window_end"),
        "region",
        "category",
        "order_count",
        "revenue_eur",
        (F.col("revenue_eur") / F.col("order_count")).alias("avg_order_value_eur"),
        "distinct_customers",
        "min_amount_eur",
        "max_amount_eur",
    )
