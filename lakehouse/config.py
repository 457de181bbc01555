"""Typed settings with named profiles; every field can be overridden by an environment variable.

Profiles: ``embedded`` (default: mini-cluster, generated files, Delta on local disk), ``local``
(the infra/ stack: Kafka, SeaweedFS S3, a Flink session cluster) and ``production`` (the same as
``local`` with endpoints and keys from the environment). Secrets are read from the environment only
and never printed: ``Settings.__repr__`` masks them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from lakehouse import contract

PROFILES = ("embedded", "local", "production")


def _default_home() -> Path:
    return Path(os.environ.get("LAKEHOUSE_HOME", Path.home() / ".local/share/lakehouse"))


@dataclass(frozen=True, kw_only=True)
class Settings:
    profile: str = "embedded"
    data_dir: Path = field(default_factory=lambda: _default_home() / "embedded")
    table_root: str = ""  # defaults to <data_dir>/tables (embedded) or s3://<bucket>/tables
    parallelism: int = 1
    checkpoint_interval_ms: int = 5_000
    # "delta" (the project's Delta connector, connectors/delta: Parquet files committed to the Delta
    # log by Flink's two-phase commit) or "blackhole" (the same plan with no output, the engine's
    # ceiling for benchmarks).
    sink_mode: str = "delta"
    # The Delta sink closes a data file at this size, and at every checkpoint.
    sink_target_file_size: str = "128mb"
    # Flink's state.backend.type for this job ("hashmap" or "rocksdb"); empty: the cluster's own
    # (RocksDB on the local stack, the heap in the embedded mini-cluster).
    state_backend: str = ""
    # The job's own jars (udfs/java, connectors/delta), ';'-separated, when they were built ahead
    # of time (a container image or a `lakehouse package` archive); empty: compiled here on first use.
    job_jars: str = ""
    # More Flink configuration for this job ("key=value;key=value"), set last, over the project's own
    # choices: e.g. "state.storage.fs.memory-threshold=1mb" for tuning without code changes.
    flink_options: str = ""
    # Connector options for the order-events Kafka source on top of jobs/orders_pipeline.py's
    # ("key=value;key=value"; an empty value removes an option), for tuning without code changes.
    order_source_options: str = ""
    # The same for the two dimension (CDC) sources, customers and products.
    dimension_source_options: str = ""
    # How the dimension topics' records are wrapped (lakehouse/sources/cdc.py): "schema" for Kafka Connect's
    # JsonConverter with schemas.enable=true ({schema, payload}), "plain" for schemas.enable=false,
    # "auto" (default) takes either, record by record.
    cdc_envelope: str = "auto"
    # Which tables the job writes, comma-separated ("silver.order_events,gold.anomalies"); empty:
    # every table. For measurements: the benchmark's ablations drop one branch at a time, and
    # "staging" alone is its parse-only reference (the order-events source, decoding, parsing and
    # the contract into a blackhole table, nothing else). A production job writes every table.
    outputs: str = ""
    # The order-events contract's size limit: a larger record is quarantined unparsed ("record too
    # large"). Default: contract.MAX_RECORD_BYTES (1 MiB, Kafka's default message size).
    max_record_bytes: int = contract.MAX_RECORD_BYTES
    job_name: str = "orders-pipeline"
    rules_file: Path = field(
        default_factory=lambda: Path(__file__).resolve().parent.parent / "config" / "anomaly_rules.toml"
    )
    # S3 (local stack / production); path-style access works for SeaweedFS, MinIO and AWS.
    s3_endpoint: str = ""
    s3_region: str = "us-east-1"
    s3_bucket: str = "lakehouse"
    s3_access_key: str = field(default="", repr=False)
    s3_secret_key: str = field(default="", repr=False)
    # Kafka (local stack / production)
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""  # prepended to order-events, customers and products (tests use a unique one)
    flink_rest: str = "http://127.0.0.1:8081"  # the session cluster's REST endpoint
    jvm_heap: str = "1g"  # the embedded mini-cluster's JVM heap; explicit so it never takes RAM/4
    # More JVM options for the embedded mini-cluster. An embedded run is a short catch-up (a minute),
    # in which the optimising JIT compiler (C2) spent about as much CPU as the job itself, compiling
    # the planner's generated code; the quick compiler alone made `make run` 1.6-2x faster in wall
    # time (BENCHMARKS.md). A long-running job on a cluster keeps the JVM's default (both tiers).
    jvm_options: str = "-XX:TieredStopAtLevel=1"
    # A replay's table version: its job writes <table root>/_v/<version>; readers follow the table
    # root's pointer (lakehouse/lake/catalog.py).
    table_version: str = ""
    # The speed path: the job also writes gold 1-minute metrics and anomalies to Kafka topics
    # (<topic_prefix>gold-order-metrics-1m, <topic_prefix>gold-anomalies) for `lakehouse serve`.
    # Off by default; needs Kafka, so it is for the local stack and production (jobs/orders_speed.py).
    serving_topics: bool = False

    @property
    def input_dir(self) -> Path:
        return self.data_dir / "input"

    def logical_tables_uri(self) -> str:
        """The table root readers name; its pointer says which version of each table is current."""
        if self.table_root:
            return self.table_root.rstrip("/")
        if self.profile == "embedded":
            return str(self.data_dir / "tables")
        return f"s3://{self.s3_bucket}/tables"

    def tables_uri(self) -> str:
        """Where this job writes its tables: the table root, or a replay's version below it."""
        return _versioned(self.logical_tables_uri(), self.table_version)

    def fingerprints_uri(self) -> str:
        """Where jobs record their state fingerprints (lakehouse/pipeline/state_fingerprint.py)."""
        if self.profile == "embedded":
            return str(self.data_dir / "fingerprints")
        return f"s3://{self.s3_bucket}/flink/fingerprints"

    def storage_options(self) -> dict[str, str]:
        """delta-rs / object_store options for the table root (empty on local disk)."""
        if not self.tables_uri().startswith("s3://"):
            return {}
        return {
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "AWS_REGION": self.s3_region,
            "AWS_ACCESS_KEY_ID": self.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3_secret_key,
            "AWS_ALLOW_HTTP": "true" if self.s3_endpoint.startswith("http://") else "false",
            "AWS_S3_ADDRESSING_STYLE": "path",
        }


def _versioned(root: str, version: str) -> str:
    if not version:
        return root
    if "/" in version or not version.strip():
        raise ValueError(f"a table version is a plain name like v2, not {version!r}")
    return f"{root}/_v/{version}"


_ENV_PREFIX = "LAKEHOUSE_"
_ENV_ALIASES = {"s3_access_key": "S3_WRITER_ACCESS_KEY", "s3_secret_key": "S3_WRITER_SECRET_KEY"}


def load(profile: str | None = None, **overrides) -> Settings:
    """Settings for a profile, then environment variables (LAKEHOUSE_<FIELD>), then overrides."""
    profile = profile or os.environ.get("LAKEHOUSE_PROFILE", "embedded")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    settings = Settings(profile=profile)
    if profile == "local":
        settings = replace(settings, s3_endpoint="http://127.0.0.1:8333", parallelism=2)
    values = {}
    for f in fields(Settings):
        raw = os.environ.get(_ENV_PREFIX + f.name.upper()) or os.environ.get(_ENV_ALIASES.get(f.name, "\0"))
        if raw is None or raw == "":
            continue
        values[f.name] = _coerce(getattr(settings, f.name), raw)
    values.update({k: _coerce(getattr(settings, k), v) for k, v in overrides.items() if v is not None})
    return replace(settings, **values)


def _coerce(current: object, raw: object) -> object:
    if isinstance(current, Path):
        return Path(raw)
    if isinstance(current, bool):  # before int: bool is an int
        if isinstance(raw, bool):
            return raw
        if str(raw).strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise ValueError(f"expected a boolean (true/false), got {raw!r}")
        return str(raw).strip().lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        return int(raw)
    return raw
