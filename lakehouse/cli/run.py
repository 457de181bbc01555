"""Commands that generate and run the pipeline on this machine, and read its tables: run, generate,
produce (to the local stack's Kafka), follow, summary, history.

``lakehouse.cli.commands`` registers them with ``add_commands(sub, common)``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from lakehouse import config
from lakehouse.cli import options
from lakehouse.lake import tables
from lakehouse.sources import generator


def _gen_config(args: argparse.Namespace) -> generator.GeneratorConfig:
    return generator.GeneratorConfig(seed=args.seed, minutes=args.minutes, orders_per_second=args.rate)


def _start_live_view(settings: config.Settings):
    """`lakehouse serve` fed by the gold tables (no Kafka, no Redis) beside the embedded run."""
    import subprocess

    from lakehouse.serve import settings as serve_settings

    serve = serve_settings.load()
    env = config.job_environment(settings, inherit=os.environ)
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
    table = DeltaTable(catalog.resolve(settings, spec), storage_options=settings.reader_storage_options())
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


def _log(message: str) -> None:
    print(message, flush=True)


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Register run, generate, produce, follow, summary and history."""
    gen = argparse.ArgumentParser(add_help=False)
    gen.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    gen.add_argument("--minutes", type=int, default=60, help="minutes of event time (default 60)")
    gen.add_argument(
        "--rate",
        type=float,
        default=14.0,
        help="orders per second of event time (default 14, about 235k events an hour)",
    )
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
        "summary", parents=[common], help="rows per table, anomalies and hourly revenue, read from Delta"
    )
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("history", parents=[common], help="a table's Delta commits with their provenance")
    p.add_argument("table", help="e.g. silver.orders_enriched")
    p.add_argument("--limit", type=int, default=20, help="newest commits to show (default 20)")
    p.set_defaults(func=cmd_history)
