"""The project's plan on Spark Structured Streaming (pyspark + delta-spark): the benchmark's peer.
This module runs the plan (spark_plan.py) as two streaming queries in the session of spark_session.py,
and is the peer's command line.

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
import json
import os
import signal
import sys
import time
from collections.abc import Iterable

from lakehouse.lake import tables

try:  # the `spark` extra: LAKEHOUSE_EXTRAS=spark scripts/bootstrap.sh installs it
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql import functions as F
except ImportError as missing:  # pragma: no cover - only without the extra
    raise SystemExit(
        f"pyspark is not installed ({missing}); run through LAKEHOUSE_EXTRAS=spark scripts/with-env.sh"
    ) from missing

# After the check above: the plan and the session import pyspark themselves.
from bench.peers.spark_plan import (
    contract_rejects,
    dimension_versions,
    enrich,
    enriched_rows,
    enrichment_rejects,
    metrics_1m,
    silver_events,
    staged_orders,
)
from bench.peers.spark_session import Options, ensure_tables, hadoop_path, session, table_path


def _kafka(reader, options: Options, stream: str, **settings: str) -> DataFrame:
    """The ``<prefix><stream>`` topic through Spark's Kafka source, streaming or batch by ``reader``."""
    return (
        reader.format("kafka")
        .option("kafka.bootstrap.servers", options.bootstrap)
        .option("subscribe", f"{options.topic_prefix}{stream}")
        .options(**settings)
        .load()
    )


def _kafka_stream(spark: SparkSession, options: Options, stream: str) -> DataFrame:
    return _kafka(
        spark.readStream,
        options,
        stream,
        startingOffsets=options.starting_offsets,
        maxOffsetsPerTrigger=str(options.max_offsets_per_trigger),
        failOnDataLoss="true",
    )


def _kafka_batch(spark: SparkSession, options: Options, stream: str) -> DataFrame:
    return _kafka(spark.read, options, stream, startingOffsets="earliest", endingOffsets="latest")


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
        .option("checkpointLocation", f"{hadoop_path(options.checkpoint_root)}/silver")
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
        .option("checkpointLocation", f"{hadoop_path(options.checkpoint_root)}/gold")
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
