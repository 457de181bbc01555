"""The Spark peer's session and tables: a local session sized like the Flink job (task slots, driver
heap, RocksDB state), the jars it needs (delta-spark, the Kafka source, hadoop-aws for s3a), and the
peer's Delta tables laid out as the Flink job's."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from bench.peers.spark_plan import PEER_TABLES, spark_schema
from lakehouse.lake import tables

DELTA_VERSION = "4.0.1"  # delta-spark's jar, the same version as the Python package
_TOKEN_PROVIDER = "org.apache.spark:spark-token-provider-kafka-0-10_2.13"
_TOKEN_PROVIDER_VERSION = "4.0.0"
MAVEN_CENTRAL = os.environ.get("MAVEN_REPO_URL", "https://repo1.maven.org/maven2")
IVY_DIR = Path(os.environ.get("LAKEHOUSE_CACHE_DIR", Path.home() / ".cache" / "lakehouse")) / "ivy"


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


def hadoop_path(uri: str) -> str:
    return "s3a://" + uri[len("s3://") :] if uri.startswith("s3://") else uri


def table_path(options: Options, spec: tables.TableSpec) -> str:
    """Where the peer writes a table: the same layout as the Flink job's (lakehouse/lake/storage.py)."""
    return f"{hadoop_path(options.table_root.rstrip('/'))}/{spec.path}"


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
