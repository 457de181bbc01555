"""The orders pipeline: enrichment, window metrics and anomalies in one Flink job.

Submit it to a cluster with ``flink run -py jobs/orders_pipeline.py`` (see README) or run it on the
embedded mini-cluster with ``lakehouse run``. Sources and Delta sinks come from the profile's
configuration; the logic lives in the transform() functions of the other job files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script by `flink run -py` or `python jobs/...`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs import orders_anomalies, orders_enrich, orders_metrics, orders_speed  # noqa: E402
from lakehouse import config, contract, rules, sql
from lakehouse.config import Settings  # noqa: E402
from lakehouse.lake import tables
from lakehouse.pipeline import flink_env
from lakehouse.sources import cdc  # noqa: E402

# The metadata column that says when a record reached the source, per connector.
ARRIVAL_TIME_METADATA = {"filesystem": "file.modification-time", "kafka": "timestamp"}
# Where a record sits in its source, per connector (the quarantine key of a record without a payload).
POSITION_COLUMNS = {
    # One stream for the whole file input: the file source's watermark covers every file a reader
    # reads, so lateness is judged against all of them (docs/DESIGN.md, "Lateness").
    "filesystem": "record_position string metadata from 'file.path' virtual,\n    record_stream as 'files'",
    "kafka": (
        "record_topic string metadata from 'topic' virtual,\n"
        "    record_partition int metadata from 'partition' virtual,\n"
        "    record_offset bigint metadata from 'offset' virtual,\n"
        "    record_position as concat_ws('/', record_topic, cast(record_partition as string), "
        "cast(record_offset as string)),\n"
        "    record_stream as concat_ws('/', record_topic, cast(record_partition as string))"
    ),
}


def source_options(settings: Settings) -> dict[str, dict[str, str]]:
    """Connector options per source table for the profile; DDL files stay the same."""
    if settings.profile == "embedded":
        files = settings.input_dir
        return {
            "src_order_events": {"connector": "filesystem", "path": str(files / "order-events"), "format": "raw"},
            "src_customers": {"connector": "filesystem", "path": str(files / "customers"), "format": "raw"},
            "src_products": {"connector": "filesystem", "path": str(files / "products"), "format": "raw"},
        }
    common = {
        "connector": "kafka",
        "properties.bootstrap.servers": settings.kafka_bootstrap,
        "properties.group.id": settings.job_name,
        "scan.startup.mode": "earliest-offset",
    }
    # Dimension topics go quiet for long stretches; an idle one must not hold back the temporal
    # join. Order events get no idle timeout: an idle partition would let the watermark pass
    # events it has not delivered yet, and the windows would drop them although the staging view
    # calls them on time (it compares each event with its own partition's progress, see
    # sql/flink/stg_order_events.sql and docs/DESIGN.md, "Lateness").
    # Change records are read raw and parsed in SQL, so a bad one is quarantined (lakehouse/sources/cdc.py).
    dimension = {**common, "format": "raw", "scan.watermark.idle-timeout": "30 s"}
    prefix = settings.topic_prefix
    # Lateness does not depend on the watermark, so the source reads as fast as Kafka serves it:
    # default fetch sizes, no watermark alignment, periodic watermarks.
    orders = {"topic": f"{prefix}order-events", "format": "raw"}
    return {
        "src_order_events": _with_overrides({**common, **orders}, settings.order_source_options),
        "src_customers": _with_overrides(
            {**dimension, "topic": f"{prefix}customers"}, settings.dimension_source_options
        ),
        "src_products": _with_overrides({**dimension, "topic": f"{prefix}products"}, settings.dimension_source_options),
    }


def _with_overrides(options: dict[str, str], overrides: str) -> dict[str, str]:
    """Apply "key=value;key=" (an empty value removes the key) on top of ``options``."""
    result = dict(options)
    for key, value in flink_env.parse_options(overrides, "source options").items():
        if value:
            result[key] = value
        else:
            result.pop(key, None)
    return result


def sink_options(settings: Settings, spec: tables.TableSpec) -> dict[str, str]:
    """Connector options of a table's sink for the configured ``sink_mode``.

    ``delta`` (default): the project's Delta connector (connectors/delta) appends Parquet files and
    commits them to the table's log when each checkpoint completes, exactly once. ``blackhole``
    discards every row: the same plan without output, which the benchmark times as the engine's
    ceiling."""
    if settings.sink_mode == "blackhole":
        return {"connector": "blackhole"}
    if settings.sink_mode == "delta":
        options: dict[str, str] = {
            "connector": "delta",
            "table-path": f"{settings.tables_uri()}/{spec.path}",
            "table-name": spec.name,
            "app-id": f"{settings.job_name}/{spec.name}",
            "sink.target-file-size": settings.sink_target_file_size,
        }
        if spec.partition_by:
            options["partition-columns"] = ";".join(spec.partition_by)
        if settings.tables_uri().startswith(("s3://", "s3a://")):
            options |= {"s3.endpoint": settings.s3_endpoint, "s3.region": settings.s3_region}
            if settings.profile == "embedded":
                # The mini-cluster runs in this process and has no cluster configuration to take
                # keys from. On a cluster the task managers use their own (the connector's
                # s3.* fallbacks), so no key is written into a submitted job's DDL. Flink masks
                # option values whose key names a secret in its messages.
                options |= {"s3.access-key": settings.s3_access_key, "s3.secret-key": settings.s3_secret_key}
        return options
    raise ValueError(f"unknown sink_mode {settings.sink_mode!r}; expected delta or blackhole")


# The statement of each source table: the two change streams share one (sql/flink/src_changes.sql).
SOURCE_STATEMENTS = {
    "src_order_events": "flink/src_order_events",
    "src_customers": "flink/src_changes",
    "src_products": "flink/src_changes",
}


def register_sources(t_env, settings: Settings) -> None:
    for name, options in source_options(settings).items():
        t_env.execute_sql(
            sql.load(
                SOURCE_STATEMENTS[name],
                table=name,
                connector=sql.with_options(options),
                max_future_skew_hours=contract.MAX_FUTURE_SKEW_HOURS,
                arrival_time_key=ARRIVAL_TIME_METADATA[options["connector"]],
                position_columns=POSITION_COLUMNS[options["connector"]],
                watermark_delay_seconds=f"{contract.WATERMARK_DELAY_MS / 1000:.3f}",
                cdc_envelope=cdc.envelope_expression(settings.cdc_envelope),
            )
        )


def register_sinks(t_env, settings: Settings) -> None:
    for spec in tables.ALL:
        t_env.execute_sql(
            f"create temporary table {spec.sink_name} (\n    {spec.flink_ddl_columns()}\n) with (\n"
            f"{sql.with_options(sink_options(settings, spec))}\n)"
        )


def build(t_env, settings: Settings):
    """Register sources and sinks, run the transforms; return the statement set that writes every table."""
    register_sources(t_env, settings)
    register_sinks(t_env, settings)
    streams = transform(t_env, {name: t_env.from_path(name) for name in SOURCES}, settings)
    outputs = {name: table for name, table in streams.items() if name in tables.BY_NAME}
    statements = t_env.create_statement_set()
    for name, table in _selected(outputs, settings.outputs).items():
        if name == STAGING_OUTPUT:
            staged = streams[orders_enrich.STAGED_EVENTS]
            statements.add_insert(_blackhole_like(staged), staged)
        else:
            spec = tables.BY_NAME[name]
            statements.add_insert(spec.sink_name, spec.select_columns(table))
    if settings.serving_topics:  # the speed path for `lakehouse serve` (jobs/orders_speed.py)
        orders_speed.add_to(t_env, statements, outputs, settings)
    return statements


# The job's source tables, in the order jobs/orders_enrich.py takes them.
SOURCES = tuple(SOURCE_STATEMENTS)


def transform(t_env, sources: dict, settings: Settings) -> dict:
    """Every table of the job (by table name) and the streams between the jobs, from the source tables.

    ``sources``: name in ``SOURCES`` -> a table with that source's columns."""
    streams = orders_enrich.transform(
        t_env, *(sources[name] for name in SOURCES), max_record_bytes=settings.max_record_bytes
    )
    streams |= orders_metrics.transform(t_env, streams[orders_enrich.MATCHED_ORDERS])
    windows = {level: streams[name] for level, name in orders_metrics.WINDOWS.items()}
    streams |= orders_anomalies.transform(windows, rules.load(settings.rules_file))
    return streams


# The parse-only reference of the benchmark (Settings.outputs): the staging view into blackhole.
STAGING_OUTPUT = "staging"


def _blackhole_like(table):
    from pyflink.table import Schema, TableDescriptor

    schema = Schema.new_builder().from_resolved_schema(table.get_resolved_schema()).build()
    return TableDescriptor.for_connector("blackhole").schema(schema).build()


def _selected(outputs: dict, wanted: str) -> dict:
    """The outputs named in ``wanted`` (comma-separated; empty: all of them, without "staging")."""
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    if not names:
        return outputs
    unknown = sorted(set(names) - set(outputs) - {STAGING_OUTPUT})
    if unknown:
        raise ValueError(f"unknown outputs {unknown}; expected table names of {sorted(outputs)} or {STAGING_OUTPUT!r}")
    return {n: outputs[n] for n in outputs if n in names} | ({STAGING_OUTPUT: None} if STAGING_OUTPUT in names else {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--profile", choices=config.PROFILES, help="configuration profile (default: $LAKEHOUSE_PROFILE or embedded)"
    )
    parser.add_argument("--parallelism", type=int, help="default parallelism of the job")
    parser.add_argument("--wait", action="store_true", help="block until the job ends (bounded input)")
    args = parser.parse_args(argv)
    settings = config.load(args.profile, parallelism=args.parallelism)
    from lakehouse.pipeline.flink_env import create_table_env

    t_env = create_table_env(settings)
    result = build(t_env, settings).execute()
    job = result.get_job_client()
    print(f"submitted {settings.job_name}: job id {job.get_job_id() if job else 'n/a'}", flush=True)
    if job and settings.profile != "embedded":  # the embedded profile takes no savepoints
        _record_fingerprint(settings, str(job.get_job_id()))
    if args.wait:
        result.wait()
    return 0


def _record_fingerprint(settings: Settings, job_id: str) -> None:
    """Record the job's state fingerprint for `lakehouse jobs stop` (lakehouse/pipeline/state_fingerprint.py).

    Computed after the job is submitted, from a second build of the same plan: compiling before
    execute() would number the job's plan nodes, hence its operator uids, after the compiled
    plan's. The same build as lakehouse/pipeline/fingerprint.py's ``compute`` without connector jars
    (the `flink run` client has them in lib/)."""
    from lakehouse.pipeline import state_fingerprint
    from lakehouse.pipeline.flink_env import create_table_env

    try:
        statements = build(create_table_env(settings), settings)
        state = state_fingerprint.of_statements(statements, job=settings.job_name)
        uri = state_fingerprint.record_for_job(settings, job_id, state)
    except Exception as error:  # noqa: BLE001 - the job runs; only the restore pre-flight will lack it
        print(f"warning: could not record the state fingerprint of job {job_id}: {error}", flush=True)
        return
    print(f"state fingerprint {state.digest} recorded at {uri}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
