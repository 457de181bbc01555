"""Typed settings by concern, with named profiles; every field can be overridden by an environment variable.

Concerns: ``JobSettings`` (the streaming job on Flink), ``KafkaSettings`` (its sources),
``StorageSettings`` (where tables live and the two S3 identities: the writer, for code that writes,
and the read-only reader, for code that only reads). ``Settings`` is all three plus the profile; a
function that needs one concern can say so in its signature (``storage: StorageSettings``). Each
field's variable is ``LAKEHOUSE_<FIELD>``; the S3 keys also answer to the names the stack uses
(``S3_WRITER_ACCESS_KEY``, ``S3_READER_ACCESS_KEY`` and their secrets). ``TrinoSettings`` (host,
port, user, catalog) stands apart, read from the stack's own variables: no job needs it.

Profiles: ``embedded`` (default: mini-cluster, generated files, Delta on local disk), ``local``
(the infra/ stack: Kafka, SeaweedFS S3, a Flink session cluster) and ``production`` (the same as
``local`` with endpoints and keys from the environment). Secrets are read from the environment only
and never printed: ``Settings.__repr__`` masks them.

A job on a cluster gets its whole configuration as one environment mapping, ``job_environment``,
the inverse of ``load`` (secrets aside, which travel in the environment only).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from lakehouse import contract

PROFILES = ("embedded", "local", "production")
REPO = Path(__file__).resolve().parent.parent


def _default_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("LAKEHOUSE_HOME") or Path.home() / ".local/share/lakehouse")


@dataclass(frozen=True, kw_only=True)
class JobSettings:
    """The streaming job: its name, Flink's resources and options, which tables it writes."""

    job_name: str = "orders-pipeline"
    parallelism: int = 1
    checkpoint_interval_ms: int = 5_000
    flink_rest: str = "http://127.0.0.1:8081"  # the session cluster's REST endpoint
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
    # Which tables the job writes, comma-separated ("silver.order_events,gold.anomalies"); empty:
    # every table. For measurements: the benchmark's ablations drop one branch at a time, and
    # "staging" alone is its parse-only reference (the order-events source, decoding, parsing and
    # the contract into a blackhole table, nothing else). A production job writes every table.
    outputs: str = ""
    # The order-events contract's size limit: a larger record is quarantined unparsed ("record too
    # large"). Default: contract.MAX_RECORD_BYTES (1 MiB, Kafka's default message size).
    max_record_bytes: int = contract.MAX_RECORD_BYTES
    rules_file: Path = REPO / "config" / "anomaly_rules.toml"
    jvm_heap: str = "1g"  # the embedded mini-cluster's JVM heap; explicit so it never takes RAM/4
    # More JVM options for the embedded mini-cluster. An embedded run is a short catch-up (a minute),
    # in which the optimising JIT compiler (C2) spent about as much CPU as the job itself, compiling
    # the planner's generated code; the quick compiler alone made `make run` 1.6-2x faster in wall
    # time (BENCHMARKS.md). A long-running job on a cluster keeps the JVM's default (both tiers).
    jvm_options: str = "-XX:TieredStopAtLevel=1"
    # The speed path: the job also writes gold 1-minute metrics and anomalies to Kafka topics
    # (<topic_prefix>gold-order-metrics-1m, <topic_prefix>gold-anomalies) for `lakehouse serve`.
    # Off by default; needs Kafka, so it is for the local stack and production (jobs/orders_speed.py).
    serving_topics: bool = False


@dataclass(frozen=True, kw_only=True)
class KafkaSettings:
    """The brokers and the topics the job reads, with options for its Kafka sources."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""  # prepended to order-events, customers and products (tests use a unique one)
    # Connector options for the order-events Kafka source on top of jobs/orders_pipeline.py's
    # ("key=value;key=value"; an empty value removes an option), for tuning without code changes.
    order_source_options: str = ""
    # The same for the two dimension (CDC) sources, customers and products.
    dimension_source_options: str = ""
    # How the dimension topics' records are wrapped (lakehouse/sources/cdc.py): "schema" for Kafka Connect's
    # JsonConverter with schemas.enable=true ({schema, payload}), "plain" for schemas.enable=false,
    # "auto" (default) takes either, record by record.
    cdc_envelope: str = "auto"


@dataclass(frozen=True)
class S3Identity:
    """One S3 identity's keys; never printed."""

    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class StorageSettings:
    """Where the tables live (local disk or S3), and the two S3 identities."""

    data_dir: Path = field(default_factory=lambda: _default_home() / "embedded")
    table_root: str = ""  # defaults to <data_dir>/tables (embedded) or s3://<bucket>/tables
    # A replay's table version: its job writes <table root>/_v/<version>; readers follow the table
    # root's pointer (lakehouse/lake/catalog.py).
    table_version: str = ""
    # S3 (local stack / production); path-style access works for SeaweedFS, MinIO and AWS.
    s3_endpoint: str = ""
    s3_region: str = "us-east-1"
    s3_bucket: str = "lakehouse"
    # The writer identity (S3_WRITER_ACCESS_KEY / S3_WRITER_SECRET_KEY): the job, maintenance, the
    # version pointer, tables written from Python (read model, batch report).
    s3_access_key: str = field(default="", repr=False)
    s3_secret_key: str = field(default="", repr=False)
    # The read-only identity (S3_READER_ACCESS_KEY / S3_READER_SECRET_KEY), the one Trino uses:
    # every Python reader. Unset (e.g. a deployment with one identity): readers use the writer's keys.
    s3_reader_access_key: str = field(default="", repr=False)
    s3_reader_secret_key: str = field(default="", repr=False)

    @property
    def writer(self) -> S3Identity:
        return S3Identity(self.s3_access_key, self.s3_secret_key)

    @property
    def reader(self) -> S3Identity:
        """The read-only identity, or the writer's when no reader keys are set."""
        if self.s3_reader_access_key or self.s3_reader_secret_key:
            return S3Identity(self.s3_reader_access_key, self.s3_reader_secret_key)
        return self.writer


@dataclass(frozen=True, kw_only=True)
class TrinoSettings:
    """Where Trino answers; each field can be overridden by the environment variable in brackets.

    Apart from Settings: a job never needs it, and its variables are the stack's (infra/stack.env)."""

    host: str = "127.0.0.1"  # [LAKEHOUSE_TRINO_HOST]
    port: int = 8080  # [TRINO_HTTP_PORT], the port infra/trino/trino.sh binds
    user: str = "lakehouse"  # [LAKEHOUSE_TRINO_USER]; no authentication on the local stack
    catalog: str = "delta"  # [TRINO_CATALOG]
    request_timeout: float = 120.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TrinoSettings:
        env = os.environ if env is None else env
        return cls(
            host=env.get("LAKEHOUSE_TRINO_HOST") or cls.host,
            port=int(env.get("TRINO_HTTP_PORT") or cls.port),
            user=env.get("LAKEHOUSE_TRINO_USER") or cls.user,
            catalog=env.get("TRINO_CATALOG") or cls.catalog,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True, kw_only=True)
class Settings(JobSettings, KafkaSettings, StorageSettings):
    """The whole configuration: the profile and every concern's settings."""

    profile: str = "embedded"

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
        """delta-rs / object_store options with the writer's keys, for code that writes (empty on local disk)."""
        return self._s3_options(self.writer)

    def reader_storage_options(self) -> dict[str, str]:
        """The same with the read-only identity, for code that only reads (empty on local disk)."""
        return self._s3_options(self.reader)

    def _s3_options(self, identity: S3Identity) -> dict[str, str]:
        if not self.tables_uri().startswith("s3://"):
            return {}
        return {
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "AWS_REGION": self.s3_region,
            "AWS_ACCESS_KEY_ID": identity.access_key,
            "AWS_SECRET_ACCESS_KEY": identity.secret_key,
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
# The S3 keys under the stack's own names (infra/lib.sh, infra/s3/s3.sh), read when LAKEHOUSE_<FIELD> is unset.
_ENV_ALIASES = {
    "s3_access_key": "S3_WRITER_ACCESS_KEY",
    "s3_secret_key": "S3_WRITER_SECRET_KEY",
    "s3_reader_access_key": "S3_READER_ACCESS_KEY",
    "s3_reader_secret_key": "S3_READER_SECRET_KEY",
}


# Paths whose defaults are this checkout's or this machine's: left at their defaults they stay out of
# a job's environment and resolve where the job runs (a release's own rules file, its own home).
_RESOLVED_WHERE_RUN = ("data_dir", "rules_file")


def environment_names(*, secrets: bool = True) -> frozenset[str]:
    """Every environment variable ``load`` reads a setting from (without the S3 keys' if not ``secrets``)."""
    names = {_ENV_PREFIX + f.name.upper() for f in fields(Settings) if secrets or f.name not in _ENV_ALIASES}
    return frozenset(names | (set(_ENV_ALIASES.values()) if secrets else set()))


def _profile_defaults(profile: str, env: Mapping[str, str]) -> Settings:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    settings = Settings(profile=profile, data_dir=_default_home(env) / "embedded")
    if profile == "local":
        settings = replace(settings, s3_endpoint="http://127.0.0.1:8333", parallelism=2)
    return settings


def load(profile: str | None = None, *, env: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Settings for a profile, then environment variables (LAKEHOUSE_<FIELD>), then overrides.

    ``env``: where the variables come from (default: this process's environment). An empty value
    counts as unset: the profile's default stays.
    """
    env = os.environ if env is None else env
    profile = profile or env.get("LAKEHOUSE_PROFILE") or "embedded"
    settings = _profile_defaults(profile, env)
    values = {}
    for f in fields(Settings):
        if f.name == "profile":
            continue
        raw = env.get(_ENV_PREFIX + f.name.upper()) or env.get(_ENV_ALIASES.get(f.name, "\0"))
        if raw is None or raw == "":
            continue
        values[f.name] = _coerce(getattr(settings, f.name), raw)
    values.update({k: _coerce(getattr(settings, k), v) for k, v in overrides.items() if v is not None})
    return replace(settings, **values)


def job_environment(settings: Settings, *, inherit: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment that hands a job on a cluster its whole configuration, secrets aside.

    Every setting is there as ``LAKEHOUSE_<FIELD>`` (empty ones and the paths in _RESOLVED_WHERE_RUN
    left at their defaults aside), so ``load(env=job_environment(settings))`` equals ``settings``
    without its S3 keys. The keys are not in it: a process gets them from its own environment, a
    cluster from its configuration or secret store (deploy/k8s). With ``inherit`` (e.g. this
    process's environment), its other variables, the keys included, are kept and its settings
    variables dropped, so the job sees ``settings`` and no setting left over from elsewhere.
    """
    defaults = _profile_defaults(settings.profile, {})
    mapping = {k: v for k, v in (inherit or {}).items() if k not in environment_names(secrets=False)}
    mapping[_ENV_PREFIX + "PROFILE"] = settings.profile
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if f.name in ("profile", *_ENV_ALIASES) or value == "":
            continue
        if f.name in _RESOLVED_WHERE_RUN and value == getattr(defaults, f.name):
            continue
        mapping[_ENV_PREFIX + f.name.upper()] = _text(value)
    return mapping


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
