"""The project's plan on Spark Structured Streaming (pyspark + delta-spark): the benchmark's peer.

    LAKEHOUSE_EXTRAS=spark scripts/with-env.sh python -m bench.peers.spark_streaming --help

The same work as the Flink job, written as Spark users write it:
- order events read from the same Kafka topic (``<prefix>order-events``), parsed once with
  ``from_json`` (every field as a string, as the Flink job's ``json_object_fields`` does) and
  checked in the contract's order with the contract's own constants (lakehouse/contract.py);
- one streaming query ("silver") whose ``foreachBatch`` appends, per micro-batch, the valid events
  to silver.order_events, the enriched orders to silver.orders_enriched and the rejects to
  bronze.quarantine beside them;
- a second streaming query ("gold") reading silver.orders_enriched as a Delta stream, with a 5 s
  watermark and 1-minute tumbling windows per region and category, appended to
  gold.order_metrics_1m when the watermark passes a window's end (the medallion pattern: Kafka is
  read once);
- exactly once: Spark's checkpoint holds the Kafka offsets of every micro-batch; a batch re-run
  after a crash carries the same offsets and batch id, and each ``foreachBatch`` append names the
  Delta transaction ``(txnAppId, txnVersion) = (<app id>, <batch id>)``, so Delta skips an append
  it already committed. The gold query uses Delta's streaming sink, idempotent by the same rule.

Where the semantics differ from the Flink job (and so where the tests do not compare):
- Enrichment is a stream-static join, not an event-time temporal join. The customers and products
  Debezium topics are read as a batch (every change so far), turned into versions with a validity
  range ``[updated_at, next updated_at)``, and each order is left-joined to the version valid at
  its event time. That static side is re-read at every micro-batch (or, with
  ``--dimension-refresh-seconds``, when older than that): a change published after the batch
  started is not seen, where Flink's temporal join waits for the dimension's watermark first. With the dimensions published before the orders (the
  benchmark's throughput input, the test) both give the same rows.
- Lateness: Flink marks an event late when it arrives behind its own partition's watermark (a
  running maximum of the partition's event times, per record) and keeps it out of enrichment and
  the windows (bronze.late_events). Spark has no per-record, per-partition equivalent here: silver's ``is_late`` is left null, late orders are enriched, and the
  windows' watermark (the maximum event time seen by the previous micro-batch minus 5 s, global,
  not per partition) drops what arrives behind it. bronze.late_events is not written.
- Change records the job cannot use are skipped, not quarantined.
- Spark cannot count distinct values in a streaming aggregation; ``size(collect_set(...))`` is the
  exact equivalent used for ``distinct_customers``. The 5-minute and 1-hour cascades and the
  anomaly rules are not part of the peer (the benchmark compares silver and the 1-minute windows).

Progress goes to stdout as JSON lines (``{"event": "progress", "query": ..., "rows": ...}``), so a
benchmark can time the queries from outside; logs go to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lakehouse import contract
from lakehouse.lake import tables

try:  # the `spark` extra: LAKEHOUSE_EXTRAS=spark scripts/bootstrap.sh installs it
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
except ImportError as missing:  # pragma: no cover - only without the extra
    raise SystemExit(
        f"pyspark is not installed ({missing}); run through LAKEHOUSE_EXTRAS=spark scripts/with-env.sh"
    ) from missing

DELTA_VERSION = "4.0.1"  # delta-spark's jar, the same version as the Python package
_TOKEN_PROVIDER = "org.apache.spark:spark-token-provider-kafka-0-10_2.13"
_TOKEN_PROVIDER_VERSION = "4.0.0"
MAVEN_CENTRAL = os.environ.get("MAVEN_REPO_URL", "https://repo1.maven.org/maven2")
IVY_DIR = Path(os.environ.get("LAKEHOUSE_CACHE_DIR", Path.home() / ".cache" / "lakehouse")) / "ivy"

ORDER_FIELDS = (
    "event_id",
    "event_type",
    "order_id",
    "ts_ms",
    "customer_id",
    "product_id",
    "quantity",
    "amount",
    "currency",
    "payment_id",
    "warehouse",
    "carrier",
    "signature",
    "reason",
)
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


# --- the plan: pure functions from DataFrames to DataFrames (batch or streaming alike) -------------


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


# --- wiring: session, sources, sinks, queries ----------------------------------------------------


@dataclass(kw_only=True)
class Options:
    bootstrap: str
    topic_prefix: str
    table_root: str  # s3://bucket/... (written through s3a) or a local directory
    checkpoint_root: str
    app_id: str
    cores: int
    driver_memory: str
    trigger_seconds: float
    max_offsets_per_trigger: int
    dimension_refresh_seconds: float
    starting_offsets: str
    s3_endpoint: str
    stop_when_idle_seconds: float | None


def _hadoop_path(uri: str) -> str:
    return "s3a://" + uri[len("s3://") :] if uri.startswith("s3://") else uri


def table_path(options: Options, spec: tables.TableSpec) -> str:
    """Where the peer writes a table: the same layout as the Flink job's (lakehouse/lake/storage.py)."""
    return f"{_hadoop_path(options.table_root.rstrip('/'))}/{spec.path}"


def _packages() -> str:
    import pyspark

    wanted = [
        f"io.delta:delta-spark_2.13:{DELTA_VERSION}",
        f"org.apache.spark:spark-sql-kafka-0-10_2.13:{pyspark.__version__}",
    ]
    jars = Path(pyspark.__file__).parent / "jars"
    hadoop = next(jars.glob("hadoop-client-api-*.jar"), None)
    if hadoop is not None:  # s3a: hadoop-aws at the Hadoop version Spark ships (it brings the AWS SDK)
        wanted.append(f"org.apache.hadoop:hadoop-aws:{hadoop.stem.rsplit('-', 1)[1]}")
    return ",".join(wanted)


def _token_provider_jar() -> Path:
    """The Kafka source's helper jar (delegation tokens), fetched once from Maven Central.

    Maven Central has spark-token-provider-kafka-0-10 at 4.0.0 alone among the 4.0.x releases, so the
    Kafka source's dependency on its own version cannot resolve: it is excluded from
    spark.jars.packages and this jar (binary compatible within 4.0.x) is added by path instead."""
    group, artifact = _TOKEN_PROVIDER.split(":")
    name = f"{artifact}-{_TOKEN_PROVIDER_VERSION}.jar"
    target = IVY_DIR.parent / "spark-jars" / name
    if target.exists():
        return target
    base = f"{MAVEN_CENTRAL}/{group.replace('.', '/')}/{artifact}/{_TOKEN_PROVIDER_VERSION}/{name}"
    with urllib.request.urlopen(base, timeout=60) as response:
        data = response.read()
    with urllib.request.urlopen(base + ".sha1", timeout=60) as response:
        expected = response.read().decode().split()[0]
    if hashlib.sha1(data).hexdigest() != expected:
        raise RuntimeError(f"{name}: checksum mismatch")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def session(options: Options) -> SparkSession:
    """A local session sized like the Flink job: ``cores`` task slots, an explicit driver heap."""
    builder = (
        SparkSession.builder.appName(options.app_id)
        .master(f"local[{options.cores}]")
        .config("spark.driver.memory", options.driver_memory)
        .config("spark.jars.packages", _packages())
        .config("spark.jars.excludes", _TOKEN_PROVIDER)
        .config("spark.jars", str(_token_provider_jar()))
        .config("spark.jars.ivy", str(IVY_DIR))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.session.timeZone", "UTC")
        # The peer names every table by path; the default warehouse would be made in the working directory.
        .config("spark.sql.warehouse.dir", str(Path(tempfile.gettempdir()) / "lakehouse-spark-warehouse"))
        # One shuffle partition per core: the default 200 is made for clusters, and each partition
        # of a stateful operator is a state store to checkpoint at every micro-batch.
        .config("spark.sql.shuffle.partitions", str(options.cores))
        .config("spark.default.parallelism", str(options.cores))
        # RocksDB state with changelog checkpointing: the counterpart of the Flink job's RocksDB
        # backend (state off the heap, incremental checkpoints).
        .config(
            "spark.sql.streaming.stateStore.providerClass",
            "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
        )
        .config("spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.adaptive.enabled", "false")  # micro-batches are small; AQE re-plans each one
    )
    if options.s3_endpoint:
        # Keys come from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, read by s3a's
        # default credential chain), never from the command line or the configuration.
        builder = (
            builder.config("spark.hadoop.fs.s3a.endpoint", options.s3_endpoint)
            .config("spark.hadoop.fs.s3a.path.style.access", "true")
            .config("spark.hadoop.fs.s3a.connection.ssl.enabled", str(options.s3_endpoint.startswith("https")).lower())
            .config("spark.hadoop.fs.s3a.endpoint.region", os.environ.get("AWS_REGION", "us-east-1"))
            .config("spark.hadoop.fs.s3a.impl", "org.apache.hadoop.fs.s3a.S3AFileSystem")
        )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def ensure_tables(spark: SparkSession, options: Options) -> None:
    """Create the peer's tables up front (the gold query streams from silver.orders_enriched)."""
    from delta.tables import DeltaTable

    for spec in PEER_TABLES:
        (
            DeltaTable.createIfNotExists(spark)
            .location(table_path(options, spec))
            .addColumns(spark_schema(spec))
            .partitionedBy(*spec.partition_by)
            .execute()
        )


def _kafka_stream(spark: SparkSession, options: Options, stream: str) -> DataFrame:
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", options.bootstrap)
        .option("subscribe", f"{options.topic_prefix}{stream}")
        .option("startingOffsets", options.starting_offsets)
        .option("maxOffsetsPerTrigger", str(options.max_offsets_per_trigger))
        .option("failOnDataLoss", "true")
        .load()
    )


def _kafka_batch(spark: SparkSession, options: Options, stream: str) -> DataFrame:
    return (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", options.bootstrap)
        .option("subscribe", f"{options.topic_prefix}{stream}")
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )


class _Dimensions:
    """The static side of the join: both dimensions' versions. With a refresh interval of 0 (the
    default) they are read at every micro-batch, as a stream-static join re-reads a static side that
    is not cached (a few hundred change records here); otherwise cached and re-read when stale."""

    def __init__(self, spark: SparkSession, options: Options) -> None:
        self.spark, self.options = spark, options
        self.read_at = 0.0
        self.frames: tuple[DataFrame, DataFrame] | None = None

    def get(self) -> tuple[DataFrame, DataFrame]:
        if self.options.dimension_refresh_seconds <= 0:
            return self._read()
        if self.frames is None or time.monotonic() - self.read_at > self.options.dimension_refresh_seconds:
            old = self.frames
            customers, products = (frame.cache() for frame in self._read())
            customers.count(), products.count()  # materialise now, not inside a batch's first action
            self.frames, self.read_at = (customers, products), time.monotonic()
            for frame in old or ():
                frame.unpersist()
        return self.frames

    def _read(self) -> tuple[DataFrame, DataFrame]:
        customers = dimension_versions(
            _kafka_batch(self.spark, self.options, "customers"),
            key="customer_id",
            attributes={"region": "string", "segment": "string"},
        )
        products = dimension_versions(
            _kafka_batch(self.spark, self.options, "products"),
            key="product_id",
            attributes={"category": "string", "price": "double"},
        )
        return customers, products


def _append(df: DataFrame, path: str, *, app_id: str, batch_id: int, spec: tables.TableSpec) -> None:
    # (txnAppId, txnVersion): Delta skips this append when the table already holds it, so a
    # micro-batch replayed after a crash commits each table once.
    (
        df.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", batch_id)
        .partitionBy(*spec.partition_by)
        .save(path)
    )


def silver_query(spark: SparkSession, options: Options):
    """Kafka -> silver.order_events, silver.orders_enriched and bronze.quarantine, per micro-batch."""
    dimensions = _Dimensions(spark, options)
    dimensions.get()
    staged = staged_orders(_kafka_stream(spark, options, "order-events"))

    def write_batch(batch: DataFrame, batch_id: int) -> None:
        batch.persist()
        try:
            customers, products = dimensions.get()
            enriched = enrich(batch.where(F.col("reason").isNull()), customers, products).persist()
            writes = (
                (tables.ORDER_EVENTS, silver_events(batch)),
                (tables.ORDERS_ENRICHED, enriched_rows(enriched)),
                (tables.QUARANTINE, contract_rejects(batch).unionByName(enrichment_rejects(enriched))),
            )
            for spec, frame in writes:
                _append(frame, table_path(options, spec), app_id=options.app_id, batch_id=batch_id, spec=spec)
            enriched.unpersist()
        finally:
            batch.unpersist()

    return (
        staged.writeStream.queryName("silver")
        .foreachBatch(write_batch)
        .option("checkpointLocation", f"{_hadoop_path(options.checkpoint_root)}/silver")
        .trigger(processingTime=f"{options.trigger_seconds} seconds")
        .start()
    )


def gold_query(spark: SparkSession, options: Options):
    """silver.orders_enriched (a Delta stream) -> gold.order_metrics_1m (Delta's streaming sink)."""
    enriched = spark.readStream.format("delta").load(table_path(options, tables.ORDERS_ENRICHED))
    return (
        metrics_1m(enriched)
        .writeStream.queryName("gold")
        .format("delta")
        .outputMode("append")
        .option("checkpointLocation", f"{_hadoop_path(options.checkpoint_root)}/gold")
        .trigger(processingTime=f"{options.trigger_seconds} seconds")
        .start(table_path(options, tables.METRICS_1M))
    )


def _emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, "at": time.time(), **fields}), flush=True)


def _follow(queries: Iterable, stop_when_idle_seconds: float | None) -> None:
    """Print every finished micro-batch; return when a query fails, or when no query has had data
    or run a batch (a no-data batch runs when the watermark moves) for ``stop_when_idle_seconds``."""
    seen: dict[str, int] = {}
    last_activity = time.monotonic()
    queries = list(queries)
    while True:
        for query in queries:
            if query.exception() is not None:
                raise RuntimeError(f"query {query.name} failed: {query.exception()}")
            for progress in query.recentProgress:
                batch = progress["batchId"]
                if batch <= seen.get(query.name, -1):
                    continue
                seen[query.name] = batch
                rows = progress.get("numInputRows", 0)
                last_activity = time.monotonic()  # a batch ran: rows, or a watermark that moved
                _emit(
                    "progress",
                    query=query.name,
                    batch=batch,
                    rows=rows,
                    batch_started=progress["timestamp"],
                    duration_ms=progress.get("durationMs", {}).get("triggerExecution"),
                    watermark=progress.get("eventTime", {}).get("watermark"),
                )
        if any(query.status["isDataAvailable"] for query in queries):
            last_activity = time.monotonic()  # a batch is running on new data
        if stop_when_idle_seconds is not None and time.monotonic() - last_activity > stop_when_idle_seconds:
            return
        time.sleep(0.25)


def run(options: Options) -> None:
    spark = session(options)
    try:
        ensure_tables(spark, options)
        silver = silver_query(spark, options)
        _emit("query_started", query="silver")  # the clock of the benchmark's throughput run
        gold = gold_query(spark, options)
        _emit("started", queries=["silver", "gold"])
        _follow([silver, gold], options.stop_when_idle_seconds)
        for query in (silver, gold):
            query.stop()
        _emit("stopped")
    finally:
        spark.stop()


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description="The project's plan on Spark Structured Streaming: Kafka -> silver, quarantine, 1-minute windows in Delta.",
        epilog="Keys for S3 come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or S3_WRITER_ACCESS_KEY / "
        "S3_WRITER_SECRET_KEY). Progress: JSON lines on stdout.",
    )
    parser.add_argument(
        "--bootstrap", default=os.environ.get("LAKEHOUSE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"), help="Kafka brokers"
    )
    parser.add_argument(
        "--topic-prefix",
        default=os.environ.get("LAKEHOUSE_TOPIC_PREFIX", ""),
        help="reads <prefix>order-events, <prefix>customers, <prefix>products",
    )
    parser.add_argument("--table-root", required=True, help="s3://bucket/path or a local directory")
    parser.add_argument("--checkpoint-root", help="Spark's checkpoints (default: <table root>/_spark_checkpoints)")
    parser.add_argument("--app-id", default="spark-peer", help="Delta transaction app id of the foreachBatch appends")
    parser.add_argument("--cores", type=int, default=2, help="local[N] task slots and shuffle partitions")
    parser.add_argument("--driver-memory", default="1g", help="the driver JVM's heap (local mode: all of Spark)")
    parser.add_argument("--trigger-seconds", type=float, default=1.0, help="micro-batch interval")
    parser.add_argument(
        "--max-offsets-per-trigger", type=int, default=50_000, help="Kafka records per micro-batch at most"
    )
    parser.add_argument(
        "--dimension-refresh-seconds",
        type=float,
        default=0.0,
        help="re-read the dimension topics when older than this; 0: at every micro-batch",
    )
    parser.add_argument("--starting-offsets", default="earliest", choices=("earliest", "latest"))
    parser.add_argument(
        "--s3-endpoint", default=os.environ.get("LAKEHOUSE_S3_ENDPOINT", ""), help="S3 endpoint (path-style)"
    )
    parser.add_argument(
        "--stop-when-idle-seconds",
        type=float,
        help="stop once no query has had new data or run a batch for this long (default: run until stopped)",
    )
    args = parser.parse_args(argv)
    return Options(
        bootstrap=args.bootstrap,
        topic_prefix=args.topic_prefix,
        table_root=args.table_root,
        checkpoint_root=args.checkpoint_root or f"{args.table_root.rstrip('/')}/_spark_checkpoints",
        app_id=args.app_id,
        cores=args.cores,
        driver_memory=args.driver_memory,
        trigger_seconds=args.trigger_seconds,
        max_offsets_per_trigger=args.max_offsets_per_trigger,
        dimension_refresh_seconds=args.dimension_refresh_seconds,
        starting_offsets=args.starting_offsets,
        s3_endpoint=args.s3_endpoint if args.table_root.startswith("s3://") else "",
        stop_when_idle_seconds=args.stop_when_idle_seconds,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    # SIGTERM unwinds through run()'s finally: the queries and the session stop cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for ours, aws in (("S3_WRITER_ACCESS_KEY", "AWS_ACCESS_KEY_ID"), ("S3_WRITER_SECRET_KEY", "AWS_SECRET_ACCESS_KEY")):
        if os.environ.get(ours) and not os.environ.get(aws):
            os.environ[aws] = os.environ[ours]  # the JVM inherits the environment
    run(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
