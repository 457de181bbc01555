"""The daily report on Spark (pyspark + delta-spark): the engine for source tables larger than one machine.

    LAKEHOUSE_EXTRAS=spark scripts/with-env.sh python -m lakehouse batch-report --engine spark

The same report as lakehouse/query/batch_report.py's polars ``transform``, written in Spark's DataFrame
API, and the same contract around it:
1. Each source is read with delta-spark at the version pinned by the caller (``versionAsOf``), so
   the report is a function of those versions, as with polars.
2. The definitions are polars': ``day`` is the UTC date of ``event_time`` / ``window_start``;
   ``customers`` counts a null customer id as one value, as ``n_unique`` does (Spark's
   ``count(distinct)`` would skip it); a day and region with anomalies but no orders has
   0 orders, 0.0 revenue and no average.
3. Spark scans and aggregates; the result (one row per day and region, a few hundred rows a
   year) comes back to the driver and is written by batch_report.run like the polars result, in
   one overwrite commit that records the source versions. So the two engines are interchangeable
   over one gold.daily_report: a run on either engine at versions already reported writes nothing.

The session is local (``local[<parallelism>]``) unless ``--spark-master`` names a cluster. Its
jars (delta-spark, hadoop-aws with the AWS SDK bundle for s3a) come from Maven Central through
``spark.jars.packages`` into ~/.cache/lakehouse/ivy, shared with the benchmark's Spark peer. S3
keys are set on the session's Hadoop configuration from Settings (the environment), not in the
Spark configuration, which Spark may print.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl

from lakehouse.config import Settings
from lakehouse.lake import catalog
from lakehouse.lake.tables import TableSpec

DELTA_SPARK_VERSION = "4.0.1"  # the delta-spark jar; the same version as the Python package of the `spark` extra
IVY_DIR = Path(os.environ.get("LAKEHOUSE_CACHE_DIR", Path.home() / ".cache" / "lakehouse")) / "ivy"
INSTALL_HINT = "the `spark` extra is not installed: run through `LAKEHOUSE_EXTRAS=spark scripts/with-env.sh ...`"


class SparkMissing(RuntimeError):
    """pyspark or delta-spark is not importable in this environment."""


def _pyspark():
    try:
        import delta  # noqa: F401
        import pyspark
    except ImportError as missing:
        raise SparkMissing(f"{INSTALL_HINT} ({missing})") from missing
    return pyspark


def packages() -> list[str]:
    """Maven coordinates the session resolves: delta-spark, and hadoop-aws at the Hadoop version
    bundled with pyspark (it brings the AWS SDK bundle s3a needs)."""
    pyspark = _pyspark()
    wanted = [f"io.delta:delta-spark_2.13:{DELTA_SPARK_VERSION}"]
    jars = Path(pyspark.__file__).parent / "jars"
    hadoop = next(jars.glob("hadoop-client-api-*.jar"), None)
    if hadoop is not None:
        wanted.append(f"org.apache.hadoop:hadoop-aws:{hadoop.stem.rsplit('-', 1)[1]}")
    return wanted


def hadoop_path(uri: str) -> str:
    """A table location as Spark's Hadoop filesystems name it (s3:// is s3a:// there)."""
    return "s3a://" + uri[len("s3://") :] if uri.startswith("s3://") else uri


def session(settings: Settings, *, master: str | None = None, driver_memory: str = "1g"):
    """A Spark session that reads the project's Delta tables, on local disk or S3 (path style)."""
    _pyspark()
    from pyspark.sql import SparkSession

    cores = max(1, settings.parallelism)
    builder = (
        SparkSession.builder.appName("lakehouse-batch-daily-report")
        .master(master or f"local[{cores}]")
        .config("spark.driver.memory", driver_memory)
        .config("spark.jars.packages", ",".join(packages()))
        .config("spark.jars.ivy", str(IVY_DIR))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(Path(tempfile.gettempdir()) / "lakehouse-spark-warehouse"))
        # The report's groups are few: the default 200 shuffle partitions are made for big clusters.
        .config("spark.sql.shuffle.partitions", str(max(2, cores)))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    options = settings.reader_storage_options()  # Spark only reads: batch_report writes the result
    if options:
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        conf.set("fs.s3a.impl", "org.apache.hadoop.fs.s3a.S3AFileSystem")
        conf.set("fs.s3a.endpoint", options["AWS_ENDPOINT_URL"])
        conf.set("fs.s3a.endpoint.region", options["AWS_REGION"])
        conf.set("fs.s3a.path.style.access", "true")
        conf.set("fs.s3a.connection.ssl.enabled", "false" if options["AWS_ALLOW_HTTP"] == "true" else "true")
        conf.set("fs.s3a.access.key", options["AWS_ACCESS_KEY_ID"])
        conf.set("fs.s3a.secret.key", options["AWS_SECRET_ACCESS_KEY"])
    return spark


def read(spark, settings: Settings, spec: TableSpec, version: int, location: str | None = None):
    """One source table as a Spark DataFrame at its pinned Delta version (at ``location``, when given:
    the caller's snapshot of the version pointer)."""
    location = hadoop_path(location or catalog.resolve(settings, spec))
    return spark.read.format("delta").option("versionAsOf", version).load(location)


def transform(orders_enriched, anomalies):
    """The report as a Spark DataFrame (any DataFrames with the source tables' columns), sorted."""
    from pyspark.sql import functions as F

    orders = (
        orders_enriched.withColumn("day", F.to_date("event_time"))
        .groupBy("day", "region")
        .agg(
            F.count(F.lit(1)).alias("orders"),
            F.sum("amount_eur").alias("revenue_eur"),
            # polars' n_unique: a null customer id is one more distinct value.
            (F.countDistinct("customer_id") + F.max(F.col("customer_id").isNull().cast("int")).cast("bigint")).alias(
                "customers"
            ),
        )
    )
    firings = (
        anomalies.withColumn("day", F.to_date("window_start"))
        .groupBy("day", "region")
        .agg(F.count(F.lit(1)).alias("anomalies"))
    )
    report = orders.join(firings, on=["day", "region"], how="full_outer").select(
        "day",
        "region",
        F.coalesce("orders", F.lit(0)).cast("bigint").alias("orders"),
        F.coalesce("revenue_eur", F.lit(0.0)).cast("double").alias("revenue_eur"),
        F.when(F.col("orders") > 0, F.col("revenue_eur") / F.col("orders")).cast("double").alias("avg_order_value_eur"),
        F.coalesce("customers", F.lit(0)).cast("bigint").alias("customers"),
        F.coalesce("anomalies", F.lit(0)).cast("bigint").alias("anomalies"),
    )
    return report.orderBy("day", "region")


_POLARS_SCHEMA = {
    "day": pl.Date,
    "region": pl.String,
    "orders": pl.Int64,
    "revenue_eur": pl.Float64,
    "avg_order_value_eur": pl.Float64,
    "customers": pl.Int64,
    "anomalies": pl.Int64,
}


def compute(
    settings: Settings,
    versions: dict[str, int],
    *,
    sources: tuple[TableSpec, TableSpec],
    master: str | None = None,
    locations: dict[str, str] | None = None,
) -> pl.DataFrame:
    """The report at pinned source versions, computed by Spark, as the polars frame batch_report writes."""
    spark = session(settings, master=master)
    orders_spec, anomalies_spec = sources
    report = transform(
        read(spark, settings, orders_spec, versions[orders_spec.name], (locations or {}).get(orders_spec.name)),
        read(
            spark, settings, anomalies_spec, versions[anomalies_spec.name], (locations or {}).get(anomalies_spec.name)
        ),
    )
    rows = [row.asDict() for row in report.collect()]
    return pl.DataFrame(rows, schema=_POLARS_SCHEMA, orient="row")
