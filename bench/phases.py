"""The benchmark's phases, each measuring one thing and adding its figures to the run's results: the
embedded default, the local stack (throughput, freshness, tuning variants, report queries, commit
cost) and the Spark peer on the same input. bench/run.py chooses the phases and writes the report."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import commits, freshness, queries, spark, stack
from bench.memory import Sampler
from lakehouse import config
from lakehouse.lake import storage, tables
from lakehouse.pipeline import flink_cluster
from lakehouse.sources import generator

REPO = Path(__file__).resolve().parent.parent
CREDENTIALS = ("S3_WRITER_ACCESS_KEY", "S3_WRITER_SECRET_KEY", "S3_READER_ACCESS_KEY", "S3_READER_SECRET_KEY")

# The stack is shared: past this many seconds in the stack phase the 10M-row queries are skipped.
STACK_BUDGET_S = 600


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def first_commit(log_dirs: list[Path]) -> Path | None:
    """The first Delta commit with rows among these tables' ``_delta_log`` folders (version 0
    creates a table; the job's sink writes version 1 on from its first checkpoint), or None."""
    for log_dir in log_dirs:
        commit = log_dir / f"{1:020d}.json"
        if commit.exists():
            return commit
    return None


class FirstRows:
    """Watches an embedded run's tables from its start and notes when the first rows were committed
    (a reader sees them from then on): seconds since ``started``, polled every ``poll`` seconds."""

    def __init__(self, settings: config.Settings, started: float, *, poll: float = 0.2) -> None:
        self._logs = [Path(storage.table_uri(settings, spec)) / "_delta_log" for spec in tables.ALL]
        self._started, self._poll = started, poll
        self.seconds: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="first-rows", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set() and self.seconds is None:
            if first_commit(self._logs) is not None:
                self.seconds = round(time.monotonic() - self._started, 1)
            self._stop.wait(self._poll)

    def stop(self) -> float | None:
        self._stop.set()
        self._thread.join()
        return self.seconds


def embedded_phase(minutes: int, sampler: Sampler) -> dict:
    """`lakehouse run` on a fresh data directory; its own events/s figure (pipeline time only) and
    when its first rows were committed against its wall time."""
    data_dir = Path(tempfile.mkdtemp(prefix="lakehouse-bench-"))
    settings = config.load("embedded", data_dir=data_dir)
    env = config.job_environment(settings, inherit=flink_cluster.clean_environment())
    started = time.monotonic()
    first_rows = FirstRows(settings, started)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "lakehouse", "run", "--minutes", str(minutes)],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        sampler.extra["embedded run (python + mini-cluster JVM)"] = process.pid
        output, _ = process.communicate(timeout=900)
        sampler.extra.pop("embedded run (python + mini-cluster JVM)", None)
        if process.returncode != 0:
            raise RuntimeError(f"lakehouse run failed:\n{output[-3000:]}")
        last = json.loads((data_dir / "last_run.json").read_text())
        wall = round(time.monotonic() - started, 1)
    finally:
        first_rows_s = first_rows.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    result = {
        "events": last["events"],
        "pipeline_seconds": last["pipeline_seconds"],
        "events_per_second": last["events_per_second"],
        "wall_seconds": wall,
        "first_rows_seconds": first_rows_s,
        "first_rows_share": round(first_rows_s / wall, 3) if first_rows_s is not None else None,
        "minutes_of_event_time": minutes,
    }
    log(f"embedded: {result}")
    return result


def _stack(command: str, *, timeout: float) -> None:
    done = subprocess.run(
        [str(REPO / "infra" / "stack.sh"), command],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=flink_cluster.clean_environment(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"infra/stack.sh {command} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def parse_variant(text: str) -> dict[str, float | str]:
    """Settings of a variant: "checkpoint_interval_ms=2000,state_backend=hashmap" -> a dict.

    ``order_source_options`` takes the value of LAKEHOUSE_ORDER_SOURCE_OPTIONS ("key=value;key=";
    an empty value removes an option of the order-events Kafka source), e.g.
    "order_source_options=scan.watermark.emit.strategy=on-event;properties.fetch.min.bytes=".
    ``dimension_source_options`` does the same for the customers and products sources, and
    ``flink_options`` sets Flink configuration for the job (LAKEHOUSE_FLINK_OPTIONS), e.g.
    "flink_options=state.storage.fs.memory-threshold=1mb". ``sink`` runs the variant's throughput
    run into another sink than Delta: ``sink=blackhole`` compares plan settings on the ceiling.
    """
    numbers = {"checkpoint_interval_ms"}
    words = {"state_backend", "order_source_options", "dimension_source_options", "flink_options", "sink"}
    values: dict[str, float | str] = {}
    for item in text.split(","):
        key, _, value = (part.strip() for part in item.partition("="))
        if key in numbers:
            values[key] = float(value)
        elif key in words:
            if key == "sink" and value not in stack.SINK_KINDS:
                raise ValueError(f"unknown sink {value!r} in a variant; expected one of {sorted(stack.SINK_KINDS)}")
            values[key] = value
        else:
            raise ValueError(f"unknown variant setting {key!r}; expected one of {sorted(numbers | words)}")
    return values


def checkpoint_intervals(given: int | None, mode: dict) -> tuple[int, int]:
    """The checkpoint intervals (ms) of the throughput and the freshness runs: ``given`` for both,
    else the job's own default for throughput and the mode's for freshness."""
    if given:
        return int(given), int(given)
    return config.Settings().checkpoint_interval_ms, mode["freshness_checkpoint_interval_ms"]


def _variant_runs(text: str, mode: dict, args: argparse.Namespace, sampler: Sampler, results: dict) -> dict:
    """The p2 pipeline run and the freshness run again with other settings, in the same session.

    The baseline of the comparison is the main run's p2 pipeline run and freshness run."""
    values = parse_variant(text)
    checkpoint_ms = checkpoint_intervals(values.get("checkpoint_interval_ms", args.checkpoint_interval_ms), mode)
    state_backend = str(values.get("state_backend", ""))
    sink = str(values.get("sink", "delta"))
    out: dict = {"variant": text}
    # The job reads its source options from the environment `flink run` passes on.
    with (
        _environment("LAKEHOUSE_ORDER_SOURCE_OPTIONS", str(values.get("order_source_options", ""))),
        _environment("LAKEHOUSE_DIMENSION_SOURCE_OPTIONS", str(values.get("dimension_source_options", ""))),
        _environment("LAKEHOUSE_FLINK_OPTIONS", str(values.get("flink_options", ""))),
    ):
        _variant_measure(out, mode, args, sampler, results, checkpoint_ms, state_backend, sink)
    return out


@contextlib.contextmanager
def _environment(name: str, value: str):
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _variant_measure(
    out, mode, args, sampler, results, checkpoint_ms: tuple[int, int], state_backend, sink: str
) -> None:
    """checkpoint_ms: the intervals of the throughput run and of the freshness run."""
    if results.get("input"):
        data = stack.Input(**results["input"])
        out["throughput"] = stack.throughput_run(
            data,
            parallelism=2,
            sink_mode=sink,
            checkpoint_interval_ms=checkpoint_ms[0],
            sampler=sampler,
            log=log,
            state_backend=state_backend,
            watch_threads=args.threads,
        )
    if "freshness" in args.phases:
        out["freshness"] = freshness.freshness_run(
            **mode["freshness"],
            parallelism=2,
            checkpoint_interval_ms=checkpoint_ms[1],
            poll_every=0.5,
            sampler=sampler,
            log=log,
            state_backend=state_backend,
        )


def stack_phase(mode: dict, args: argparse.Namespace, sampler: Sampler, results: dict) -> None:
    for name in CREDENTIALS:  # throwaway keys, as the test session makes them, unless given
        if not os.environ.get(name):
            os.environ[name] = (
                ("bench-" + secrets.token_hex(4)) if name.endswith("ACCESS_KEY") else secrets.token_hex(16)
            )
    os.environ.setdefault("LAKEHOUSE_PYTHON", sys.executable)
    started = phase_started = time.monotonic()
    _stack("up", timeout=900)
    results["durations"]["stack_up_s"] = round(time.monotonic() - started, 1)
    log(f"stack up in {results['durations']['stack_up_s']}s")
    try:
        if "throughput" in args.phases:
            gen = dict(mode["throughput_gen"])
            if args.throughput_minutes:
                gen["minutes"] = args.throughput_minutes
            data = stack.produce_input(generator.GeneratorConfig(**gen), log=log)
            results["input"] = vars(data)
            for parallelism in args.parallelisms or mode["parallelisms"]:
                for sink in args.sinks:
                    results["throughput"].append(
                        stack.throughput_run(
                            data,
                            parallelism=parallelism,
                            sink_mode=sink,
                            checkpoint_interval_ms=checkpoint_intervals(args.checkpoint_interval_ms, mode)[0],
                            sampler=sampler,
                            log=log,
                            watch_threads=args.threads,
                        )
                    )
        if "freshness" in args.phases:
            results["freshness"] = freshness.freshness_run(
                **mode["freshness"],
                parallelism=2,
                checkpoint_interval_ms=checkpoint_intervals(args.checkpoint_interval_ms, mode)[1],
                poll_every=0.5,
                sampler=sampler,
                log=log,
            )
        if "spark" in args.phases:
            spark_phase(mode, args, sampler, results)
        for variant in args.variant:
            results["variants"].append(_variant_runs(variant, mode, args, sampler, results))
        if "queries" in args.phases:
            started = time.monotonic()
            was_running = queries.trino_running()  # left by someone else: used, and left running
            queries.start_trino(log=log)
            results["durations"]["trino_start_s"] = round(time.monotonic() - started, 1)
            results["trino_was_running"] = was_running
            try:
                written = 0
                settings = stack.run_settings(prefix="", name=f"bench-queries-{secrets.token_hex(3)}")
                for rows in mode["query_rows"]:
                    if rows > 1_000_000 and time.monotonic() - phase_started > STACK_BUDGET_S:
                        log(f"skipping {rows:,} rows: the stack phase has used its {STACK_BUDGET_S} s budget")
                        results["queries_skipped"] = rows
                        break
                    results["durations"][f"synthetic_{rows}_s"] = queries.write_synthetic_silver(
                        settings, rows, already=written, log=log
                    )
                    written = rows
                    results["queries"] += queries.query_latency(
                        settings, rows, repeats=mode["query_repeats"][rows], log=log
                    )
            finally:
                if not was_running:
                    queries.stop_trino()
        if "commits" in args.phases:
            results["commits"] = commits_phase(mode, results)
    finally:
        started = time.monotonic()
        _stack("down", timeout=300)
        log(f"stack down in {time.monotonic() - started:.1f}s")


def spark_phase(mode: dict, args: argparse.Namespace, sampler: Sampler, results: dict) -> None:
    """The Spark peer after the Flink runs: the same produced input, then the same freshness run.

    Its memory is sampled under a phase of its own ("stack-spark"), so its peak is its own."""
    spark.ensure_installed(log=log)
    cores = mode["peer_cores"]
    peer: dict = {"engine": "spark", "cores": cores}
    sampler.phase = "stack-spark"
    try:
        if results.get("input"):
            peer["throughput"] = spark.throughput_run(
                stack.Input(**results["input"]), cores=cores, sampler=sampler, log=log
            )
        if "freshness" in args.phases:
            peer["freshness"] = spark.freshness_run(
                **mode["freshness"], cores=cores, poll_every=0.5, sampler=sampler, log=log
            )
    finally:
        sampler.phase = "stack"
        results["peers"] = [peer]


def commits_phase(mode: dict, results: dict) -> dict:
    """The sink's commit on an empty table and on one of ``commit_table_rows`` rows (written here)."""
    token = secrets.token_hex(3)
    empty = stack.run_settings(prefix="", name=f"bench-commits-empty-{token}")
    large = stack.run_settings(prefix="", name=f"bench-commits-large-{token}")
    rows = mode["commit_table_rows"]
    results["durations"][f"commit_table_{rows}_s"] = round(queries.write_synthetic_silver(large, rows, log=log), 1)
    return {
        **commits.compare({"empty": empty, "large": large}, **mode["commits"], log=log),
        "large_rows": rows,
    }
