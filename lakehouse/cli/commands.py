"""The `lakehouse` command line: one entry point, `--help` on every command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from lakehouse import config
from lakehouse.cli import data as cli_data
from lakehouse.cli import errors, options
from lakehouse.lake import tables
from lakehouse.sources import generator


def _gen_config(args: argparse.Namespace) -> generator.GeneratorConfig:
    return generator.GeneratorConfig(seed=args.seed, minutes=args.minutes, orders_per_second=args.rate)


def _start_live_view(settings: config.Settings):
    """`lakehouse serve` fed by the gold tables (no Kafka, no Redis) beside the embedded run."""
    import os
    import subprocess

    from lakehouse.serve import settings as serve_settings

    serve = serve_settings.load()
    env = {**os.environ, "LAKEHOUSE_PROFILE": "embedded", "LAKEHOUSE_DATA_DIR": str(settings.data_dir)}
    command = [sys.executable, "-m", "lakehouse", "serve", "--store", "memory", "--source", "gold"]
    process = subprocess.Popen(command, env=env)
    _log(f"live view: http://{serve.host}:{serve.port}/ (updates as each commit lands)")
    return process


def _keep_live_view(viewer) -> None:
    import signal

    print("\nThe live view keeps serving; Ctrl-C stops it.", flush=True)
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: viewer.terminate())
    try:
        # Polled, not wait(): with the JVM gateway's and deltalake's threads in this process, a
        # signal may land on another thread and would not wake a blocking wait.
        while viewer.poll() is None:
            time.sleep(0.5)
    finally:
        if viewer.poll() is None:
            viewer.terminate()
            viewer.wait(15)


def cmd_generate(args: argparse.Namespace) -> int:
    from lakehouse.pipeline import embedded

    settings = options.settings(args)
    embedded.prepare_input(settings, _gen_config(args))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from lakehouse.pipeline import embedded
    from lakehouse.query import report

    settings = options.settings(args)
    if settings.profile != "embedded":
        print(
            "`lakehouse run` drives the embedded mini-cluster; on a cluster submit jobs/orders_pipeline.py "
            "with `lakehouse submit` or `flink run` (see README).",
            file=sys.stderr,
        )
        return 2
    print(f"lakehouse run: profile embedded, data in {settings.data_dir}", flush=True)
    started = time.monotonic()
    events = embedded.prepare_input(settings, _gen_config(args), log=_log)
    viewer = _start_live_view(settings) if getattr(args, "serve", False) else None
    pipeline_started = time.monotonic()
    inserted = embedded.run_pipeline(settings, log=_log)
    pipeline_seconds = time.monotonic() - pipeline_started
    summary_started = time.monotonic()
    print(report.summary(settings))
    _log(f"(summary read from the Delta tables in {time.monotonic() - summary_started:.1f}s)")
    total = time.monotonic() - started
    print(
        f"\nWall time {total:.1f}s (pipeline {pipeline_seconds:.1f}s): {events:,} events, "
        f"{events / pipeline_seconds:,.0f} events/s through the pipeline; rows committed this run: "
        f"{sum(inserted.values()):,}."
    )
    embedded.write_run_report(
        settings.data_dir / "last_run.json",
        {
            "events": events,
            "wall_seconds": round(total, 1),
            "pipeline_seconds": round(pipeline_seconds, 1),
            "events_per_second": round(events / pipeline_seconds),
            "inserted": inserted,
        },
    )
    if viewer is not None:
        _keep_live_view(viewer)
    return 0


def cmd_follow(args: argparse.Namespace) -> int:
    from lakehouse.lake import read_model

    settings = options.settings(args)
    while True:
        result = read_model.follow(settings)
        if result is not None:
            _log(
                f"{tables.ORDERS_CURRENT.name}: {result.orders:,} orders recomputed from {tables.ORDER_EVENTS.name} "
                f"v{result.source_version}: {result.inserted:,} new, {result.updated:,} changed "
                f"(version {result.version})"
            )
        if not args.follow:
            return 0
        time.sleep(args.interval)


def cmd_summary(args: argparse.Namespace) -> int:
    from lakehouse.query import report

    print(report.summary(options.settings(args)))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from deltalake import DeltaTable

    from lakehouse.lake import catalog, tables

    settings = options.settings(args)
    spec = tables.BY_NAME.get(args.table)
    if spec is None:
        print(f"unknown table {args.table!r}; known: {', '.join(tables.BY_NAME)}", file=sys.stderr)
        return 2
    table = DeltaTable(catalog.resolve(settings, spec), storage_options=settings.storage_options())
    for entry in table.history(args.limit):
        metrics = entry.get("operationMetrics", {})
        rows = (
            entry.get("lakehouse.rows") or metrics.get("numOutputRows") or metrics.get("num_target_rows_inserted", "-")
        )
        transactions = entry.get("lakehouse.transactions")
        source = (
            f" from {entry['lakehouse.source_table']} v{entry['lakehouse.source_version']}"
            if "lakehouse.source_version" in entry
            else ""
        )
        print(
            f"v{entry.get('version')} {entry.get('operation')} rows={rows} "
            f"files={metrics.get('numFiles', metrics.get('numFilesAdded', '-'))}{source}"
            + (f" txn={transactions}" if transactions else "")
        )
    return 0


def cmd_produce(args: argparse.Namespace) -> int:
    from lakehouse.sources import producer

    settings = options.settings(args)
    created = producer.ensure_topics(settings.kafka_bootstrap, settings.topic_prefix)
    if created:
        _log(f"created topics {', '.join(created)}")
    dataset = generator.generate(_gen_config(args))
    producer.produce(
        dataset,
        bootstrap=settings.kafka_bootstrap,
        prefix=settings.topic_prefix,
        events_per_second=args.events_per_second,
        log=_log,
    )
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from lakehouse.lake import storage
    from lakehouse.pipeline import flink_cluster

    settings = options.settings(args)
    if args.package and args.no_package:
        print("--package and --no-package exclude each other", file=sys.stderr)
        return 2
    if args.print_command:
        command = flink_cluster.run_command(settings, savepoint=args.from_savepoint, release=_release(args))
        print(" ".join(command))
        return 0
    refused = _preflight(settings, args)
    if refused:
        return refused
    storage.ensure_tables(settings)
    job_id = flink_cluster.submit(settings, savepoint=args.from_savepoint, release=_release(args))
    _log(
        f"submitted {settings.job_name}: job {job_id}; its Delta sinks commit at every checkpoint. "
        "Keep gold.orders_current following with `lakehouse follow --follow`"
    )
    return 0


def _preflight(settings: config.Settings, args: argparse.Namespace) -> int:
    """Before a job starts: 3 (and why, on stderr) when it must not, else 0. A restore's state
    must fit the new code; a start without state must not read input the tables already hold."""
    from lakehouse.lake import storage
    from lakehouse.pipeline import fingerprint

    if args.from_savepoint and not args.skip_state_check:
        _log(f"pre-flight: comparing the state layout of the new code with {args.from_savepoint} ...")
        check = fingerprint.check_restore(settings, args.from_savepoint)
        if not check.ok:
            print(fingerprint.refusal_message(check, args.from_savepoint, settings), file=sys.stderr)
            return 3
        _log(f"pre-flight: state fingerprint {check.new.digest} matches the savepoint's; restoring")
    if not args.from_savepoint and not args.fresh_start:
        spec = tables.BY_NAME["silver.order_events"]
        earlier = storage.committing_jobs(settings, spec)
        if earlier:
            print(
                f"refused: {spec.name} already holds commits of {settings.job_name} (Flink job "
                f"{', '.join(sorted(earlier))}). A submission without state reads the topics from their "
                "earliest offsets and would append that input again. Restore the job instead: "
                "`lakehouse submit --from-savepoint <path>` with a savepoint (`lakehouse jobs stop` takes one) "
                "or a retained checkpoint (<execution.checkpointing.dir>/<job id>/chk-<n>); reprocess into a "
                "new table version with `lakehouse replay`; or, if the topics hold only records the tables "
                "do not, pass --fresh-start.",
                file=sys.stderr,
            )
            return 3
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    from lakehouse.lake import storage
    from lakehouse.pipeline import application

    settings = options.settings(args)
    if args.action == "status":
        code, report = application.status()
        print(report)
        return code
    if args.action == "stop":
        location = application.stop(settings, savepoint=not args.no_savepoint, target=args.savepoint_dir)
        _log(f"stopped the application cluster's job with savepoint {location}" if location else "stopped")
        return 0
    if args.no_package:
        print("an application cluster runs a release: --no-package does not apply", file=sys.stderr)
        return 2
    refused = _preflight(settings, args)
    if refused:
        return refused
    storage.ensure_tables(settings)
    application.start(settings, _release(args), savepoint=args.from_savepoint, log=_log)
    _log("stop it with a savepoint: `lakehouse app stop`; restore: `lakehouse app start --from-savepoint <path>`")
    return 0


def _release(args: argparse.Namespace):
    """The release `submit` ships: --package, else this checkout's (built once per content); None with --no-package."""
    from lakehouse.pipeline import release

    if args.no_package:
        return None
    if args.package:
        return release.unpack(Path(args.package))
    return release.current(log=_log)


def cmd_package(args: argparse.Namespace) -> int:
    import shutil

    from lakehouse.pipeline import release

    archive = release.build(release.releases_dir(), log=_log)
    if args.output:
        Path(args.output).mkdir(parents=True, exist_ok=True)
        archive = Path(shutil.copy2(archive, Path(args.output) / archive.name))
    manifest = release.unpack(archive).manifest
    print(f"{archive}  ({archive.stat().st_size / 2**20:,.0f} MiB)")
    for name, size in sorted(manifest["sizes"].items()):
        print(f"  {size / 2**20:9.1f} MiB  {name}")
    python = manifest["python"]
    print(
        f"  Python {python['python']}, {len(python['distributions'])} distributions "
        f"({python['site_packages_bytes'] / 2**20:,.0f} MiB unpacked); Flink {manifest['flink_version']}; "
        f"commit {manifest['commit']}"
    )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from lakehouse.lake import storage
    from lakehouse.pipeline import flink_cluster

    settings = options.settings(args)
    job_name = args.job_name or f"{settings.job_name}-{args.table_version}"
    replay = replace(settings, table_version=args.table_version, job_name=job_name)
    env = {"LAKEHOUSE_TABLE_VERSION": replay.table_version, "LAKEHOUSE_JOB_NAME": replay.job_name}
    storage.ensure_tables(replay)
    job_id = flink_cluster.submit(replay, env=env)
    _log(
        f"replaying from Kafka's earliest offsets as {job_name} (job {job_id}, consumer group {job_name}) "
        f"into {replay.tables_uri()}; readers still see {_current(settings)}.\n"
        f"Its Delta sinks commit at every checkpoint; its order read model follows with:  "
        f"LAKEHOUSE_TABLE_VERSION={replay.table_version} python -m lakehouse follow --follow\n"
        f"When it has caught up:  python -m lakehouse switch {replay.table_version}"
    )
    return 0


def cmd_switch(args: argparse.Namespace) -> int:
    from lakehouse.lake import catalog

    settings = options.settings(args)
    if args.version is None:
        pointer = catalog.read_pointer(settings)
        print(json.dumps(pointer, indent=2, sort_keys=True) if pointer else f"{catalog.BASE} (no pointer)")
        return 0
    try:
        pointer = catalog.switch(settings, args.version)
    except ValueError as error:
        print(f"not switched: {error}", file=sys.stderr)
        return 2
    _log(f"readers of {settings.logical_tables_uri()} now see version {pointer['version']} (was {pointer['previous']})")
    return 0


def _current(settings: config.Settings) -> str:
    from lakehouse.lake import catalog

    return f"version {catalog.current_version(settings)}"


def cmd_jobs(args: argparse.Namespace) -> int:
    from lakehouse.pipeline import flink_cluster

    settings = options.settings(args)
    if args.action == "list":
        for job in flink_cluster.list_jobs(settings):
            print(f"{job['id']}  {job['state']:10s} {job['name']}")
        return 0
    if not args.job_id:
        print(f"`lakehouse jobs {args.action}` needs a job id (see `lakehouse jobs list`)", file=sys.stderr)
        return 2
    if args.action == "cancel":
        outcome = flink_cluster.cancel(settings, args.job_id)
        _log(
            f"cancelled {args.job_id}"
            if outcome == "CANCELLING"
            else f"{args.job_id} had already ended ({outcome}); nothing to cancel"
        )
    else:
        from lakehouse.pipeline import fingerprint

        location, recorded = fingerprint.stop_with_savepoint(settings, args.job_id, target=args.savepoint_dir)
        _log(f"stopped {args.job_id} with savepoint {location}")
        if not recorded:
            _log(
                "warning: the job recorded no state fingerprint; `submit --from-savepoint` will ask for --skip-state-check"
            )
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    from lakehouse.lake import maintenance

    settings = options.settings(args)
    for result in maintenance.maintain(settings, retention_hours=args.retention_hours, dry_run=args.dry_run):
        _log(
            f"{result.table}: compacted {result.files_removed} files into {result.files_added}, "
            f"{'would vacuum' if args.dry_run else 'vacuumed'} {result.vacuumed} files (version {result.version}), "
            f"log checkpoint at version {result.checkpoint_version}"
        )
    return 0


def _log(message: str) -> None:
    print(message, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakehouse", description="PyFlink jobs writing Delta Lake tables.")
    debug_help = "on a failure, print the traceback too (default: one line; also $LAKEHOUSE_DEBUG=1)"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's default must not overwrite `lakehouse --debug <command>`.
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
    common.add_argument(
        "--profile", choices=config.PROFILES, help="configuration profile (default: $LAKEHOUSE_PROFILE or embedded)"
    )
    common.add_argument(
        "--data-dir", help="embedded data directory (default: $LAKEHOUSE_DATA_DIR or ~/.local/share/lakehouse/embedded)"
    )
    gen = argparse.ArgumentParser(add_help=False)
    gen.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    gen.add_argument("--minutes", type=int, default=60, help="minutes of event time (default 60)")
    gen.add_argument(
        "--rate",
        type=float,
        default=14.0,
        help="orders per second of event time (default 14, about 235k events an hour)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    p = sub.add_parser(
        "run", parents=[common, gen], help="run the whole pipeline on the embedded mini-cluster and print a summary"
    )
    p.add_argument("--parallelism", type=int, help="Flink parallelism (default 1)")
    p.add_argument(
        "--serve", action="store_true", help="show the live dashboard while it runs ($SERVE_PORT, in-process store)"
    )
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("generate", parents=[common, gen], help="write the generated event streams as JSON-lines files")
    p.set_defaults(func=cmd_generate)
    p = sub.add_parser(
        "serve", parents=[common], help="the dashboard, WebSocket push and REST API over the job's speed topics"
    )
    from lakehouse.serve import main as serve_main

    serve_main.add_arguments(p)
    p.set_defaults(func=serve_main.run)
    p = sub.add_parser(
        "follow",
        parents=[common],
        help="fold new silver.order_events versions into gold.orders_current (the read model)",
    )
    p.add_argument("--follow", action="store_true", help="keep following every --interval seconds")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between passes with --follow (default 5)")
    p.set_defaults(func=cmd_follow)
    p = sub.add_parser("produce", parents=[common, gen], help="publish the generated streams to Kafka (local stack)")
    p.add_argument("--events-per-second", type=float, help="throttle to this rate (default: as fast as possible)")
    p.set_defaults(func=cmd_produce)
    p = sub.add_parser(
        "submit", parents=[common], help="submit jobs/orders_pipeline.py to the session cluster (flink run)"
    )
    p.add_argument("--from-savepoint", help="restore from this savepoint path")
    p.add_argument("--print-command", action="store_true", help="only print the `flink run` command line")
    p.add_argument(
        "--fresh-start",
        action="store_true",
        help="submit without state even though the tables hold commits of an earlier run of this job "
        "(only when the topics hold no record those commits came from)",
    )
    p.add_argument(
        "--skip-state-check",
        action="store_true",
        help="restore without comparing state fingerprints (the pre-flight check refuses incompatible state)",
    )
    p.add_argument(
        "--package",
        metavar="ARCHIVE",
        help="submit this `lakehouse package` archive (default: this checkout's, built on first use)",
    )
    p.add_argument(
        "--no-package",
        action="store_true",
        help="submit with this machine's venv as the workers' Python (only TaskManagers on this machine can run it)",
    )
    p.set_defaults(func=cmd_submit)
    p = sub.add_parser(
        "app",
        parents=[common],
        help="run the job as a Flink application cluster (standalone application mode, as on Kubernetes)",
    )
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument("--parallelism", type=int, help="the job's parallelism, and the TaskManager's slots (start)")
    p.add_argument("--from-savepoint", help="start restored from this savepoint (start)")
    p.add_argument(
        "--fresh-start", action="store_true", help="as for submit: start without state over tables that hold commits"
    )
    p.add_argument(
        "--skip-state-check", action="store_true", help="as for submit: restore without the fingerprint check"
    )
    p.add_argument("--package", metavar="ARCHIVE", help="the release archive to run (default: this checkout's)")
    p.add_argument("--no-package", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--savepoint-dir", help="savepoint target directory for stop (default: the cluster's)")
    p.add_argument("--no-savepoint", action="store_true", help="stop: end the cluster without a savepoint")
    p.set_defaults(func=cmd_app)
    p = sub.add_parser(
        "package",
        parents=[common],
        help="build the release archive: relocatable Python, code, jars (what `submit` ships to a cluster)",
    )
    p.add_argument("--output", metavar="DIR", help="also copy the archive into DIR")
    p.set_defaults(func=cmd_package)
    p = sub.add_parser(
        "replay",
        parents=[common],
        help="reprocess from Kafka's earliest offsets into a new version of the tables (after an incompatible fix)",
    )
    p.add_argument("--table-version", required=True, help="the new version's name, e.g. v2 (tables go to <root>/_v/v2)")
    p.add_argument("--job-name", help="the replay job's name and consumer group (default: <job name>-<version>)")
    p.set_defaults(func=cmd_replay)
    p = sub.add_parser(
        "switch", parents=[common], help="point every reader at a version of the tables (one atomic write)"
    )
    p.add_argument("version", nargs="?", help="e.g. v2, or base for the root's own tables; omit to show the pointer")
    p.set_defaults(func=cmd_switch)
    p = sub.add_parser("jobs", parents=[common], help="list, cancel or stop (with a savepoint) session-cluster jobs")
    p.add_argument("action", choices=("list", "cancel", "stop"))
    p.add_argument("job_id", nargs="?", help="the job id (cancel, stop)")
    p.add_argument("--savepoint-dir", help="savepoint target directory for stop (default: the cluster's)")
    p.set_defaults(func=cmd_jobs)
    p = sub.add_parser("maintain", parents=[common], help="compact and vacuum every table (safe while jobs write)")
    p.add_argument(
        "--retention-hours",
        type=int,
        default=168,
        help=(
            "keep table files any version of the last N hours needs; longer than your oldest savepoint and than"
            " the longest a running job takes from writing a data file to committing it (default 168)"
        ),
    )
    p.add_argument("--dry-run", action="store_true", help="only list what vacuum would delete; no compaction")
    p.set_defaults(func=cmd_maintain)
    p = sub.add_parser(
        "summary", parents=[common], help="rows per table, anomalies and hourly revenue, read from Delta"
    )
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("history", parents=[common], help="a table's Delta commits with their provenance")
    p.add_argument("table", help="e.g. silver.orders_enriched")
    p.add_argument("--limit", type=int, default=20, help="newest commits to show (default 20)")
    p.set_defaults(func=cmd_history)
    from lakehouse.cli import batch_report as batch_report_cli
    from lakehouse.cli import trino as trino_cli

    trino_cli.add_commands(sub, common)
    batch_report_cli.add_commands(sub, common)
    cli_data.add_commands(sub, common)  # quality, orders-current, training-set
    from lakehouse.cli import cdc as cdc_cli

    cdc_cli.add_commands(sub, common)  # cdc register, status, write
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. A failure is one line on stderr and a non-zero exit; the traceback only
    with --debug (or $LAKEHOUSE_DEBUG=1)."""
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False) or os.environ.get("LAKEHOUSE_DEBUG", "") not in ("", "0")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if debug:
            raise
        print(f"lakehouse {args.command}: {errors.describe(error)} (--debug shows the traceback)", file=sys.stderr)
        return 1
