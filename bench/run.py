"""The benchmark: one command measures the embedded default, the local stack and the query engines.

    scripts/with-env.sh python -m bench.run [--short]      # or: make bench / make bench-short

Phases: (1) the embedded default (`lakehouse run`, no services); (2) on the local stack, started
here and stopped at the end: end-to-end throughput at parallelism 1 and 2 against the blackhole
ceiling, freshness, then Trino and polars on synthetic silver tables; (3) the peer ("spark"): the
same plan on Spark Structured Streaming (bench/peers/), run after the Flink runs on the same
input and at the same freshness rate, each run on its own topics and tables; peak RSS per
component is sampled from /proc throughout. Prints a table and rewrites the generated part of BENCHMARKS.md
(between its markers; notes around them are kept); the raw figures go to bench/results/. This module
chooses the mode and phases and writes the results; the phases themselves are in bench/phases.py.

The stack is shared on this machine: with ``--lock PATH`` (default $LAKEHOUSE_STACK_LOCK) the
stack phase holds an exclusive flock on PATH, and only that phase.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import machine, report
from bench.memory import Sampler
from bench.phases import REPO, checkpoint_intervals, embedded_phase, log, parse_variant, stack_phase

__all__ = ["MODES", "checkpoint_intervals", "main", "parse_variant"]

RESULTS = REPO / "bench" / "results"

# What each mode runs. Full stayed under 15 minutes here before the Spark peer phase (which took
# about 6 minutes more in short mode at load 8-15), short under 3 (see BENCHMARKS.md).
MODES = {
    "full": {
        "embedded_minutes": 60,  # `lakehouse run`'s default input: about 235,000 events
        "throughput_gen": {"minutes": 60, "orders_per_second": 18.0},  # about 300,000 events
        "parallelisms": (1, 2),
        "freshness": {"rate": 1000.0, "seconds": 45.0},  # 2,000/s ran behind: the pipeline sustains ~3k
        # Freshness is measured at a 2 s checkpoint interval (the sinks commit per checkpoint);
        # throughput at the job's default (5 s) unless --checkpoint-interval-ms says otherwise.
        "freshness_checkpoint_interval_ms": 2_000,
        "query_rows": (1_000_000, 10_000_000),
        "query_repeats": {1_000_000: 2, 10_000_000: 1},  # 10M: one (cold) run, or the phase passes 15 min
        # The sink's commits on an empty table and on the queries' largest table: a 2 s checkpoint
        # at 1,000 events/s commits about 2,000 rows.
        "commits": {"commits": 40, "rows_per_commit": 2_000, "rounds": 4},
        "commit_table_rows": 10_000_000,
        "peer_cores": 2,  # Spark's local[N] and shuffle partitions, against the Flink job at p2
    },
    "short": {
        "embedded_minutes": 10,  # about 39,000 events
        "throughput_gen": {"minutes": 10, "orders_per_second": 14.0},  # about 39,000 events
        "parallelisms": (2,),
        "freshness": {"rate": 1000.0, "seconds": 20.0},
        "freshness_checkpoint_interval_ms": 2_000,
        "query_rows": (1_000_000,),
        "query_repeats": {1_000_000: 2},
        "commits": {"commits": 20, "rows_per_commit": 2_000, "rounds": 2},
        "commit_table_rows": 1_000_000,
        "peer_cores": 2,
    },
}


@contextlib.contextmanager
def _lock(path: str | None):
    if not path:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        log(f"waiting for the stack lock {path}")
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the short mode: smaller inputs, parallelism 2 only")
    parser.add_argument(
        "--phases",
        default="embedded,throughput,freshness,spark,queries,commits",
        help="comma-separated subset of embedded,throughput,freshness,spark,queries,commits "
        "(spark: the Spark Structured Streaming peer on the throughput input and at the freshness rate)",
    )
    parser.add_argument(
        "--lock", default=os.environ.get("LAKEHOUSE_STACK_LOCK"), help="flock this file around the stack phase"
    )
    parser.add_argument(
        "--checkpoint-interval-ms",
        type=int,
        help="for every run (default: the job's own, 5 s, for throughput; 2 s for freshness)",
    )
    parser.add_argument(
        "--throughput-minutes",
        type=int,
        help="minutes of event time produced for the throughput runs (full mode: 60, about 300,000 "
        "records; 200 makes about 1,000,000)",
    )
    parser.add_argument(
        "--parallelisms", type=lambda v: tuple(int(p) for p in v.split(",")), help="e.g. 2 (default: the mode's)"
    )
    parser.add_argument(
        "--sinks",
        type=lambda v: tuple(v.split(",")),
        default=("delta", "blackhole", "parse-only"),
        help="throughput runs: delta (the pipeline into Delta), blackhole (the ceiling), parse-only (the "
        "order-events source and its parsing alone into blackhole; default: all three)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="also run the p2 pipeline and freshness with other settings, e.g. checkpoint_interval_ms=2000 (repeatable)",
    )
    parser.add_argument(
        "--threads",
        action="store_true",
        help="throughput runs: also sum the TaskManager's CPU per thread group (JIT, GC, each operator "
        "chain) into the results file",
    )
    parser.add_argument("--label", default="", help="a name for this run in bench/results/ (e.g. a tuning change)")
    parser.add_argument("--output", default=str(REPO / "BENCHMARKS.md"), help="Markdown file to (re)write; '' for none")
    args = parser.parse_args(argv)
    # SIGTERM (a background job ignores SIGINT) unwinds through the finally blocks: the stack is
    # taken down and jobs cancelled, as on an error.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    mode_name = "short" if args.short else "full"
    mode = MODES[mode_name]
    started = time.monotonic()
    results: dict = {
        "mode": mode_name,
        "label": args.label,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(),
        "load_average_at_start": machine.load_average(),
        "settings": {
            "checkpoint_interval_ms": checkpoint_intervals(args.checkpoint_interval_ms, mode)[0],
            "freshness_checkpoint_interval_ms": checkpoint_intervals(args.checkpoint_interval_ms, mode)[1],
        },
        "durations": {},
        "throughput": [],
        "variants": [],
        "queries": [],
    }
    with Sampler() as sampler:
        if "embedded" in args.phases:
            sampler.phase = "embedded"
            results["embedded"] = embedded_phase(mode["embedded_minutes"], sampler)
        if args.phases & {"throughput", "freshness", "spark", "queries", "commits"}:
            waited = time.monotonic()
            with _lock(args.lock):
                results["durations"]["lock_wait_s"] = round(time.monotonic() - waited, 1)
                results["load_average_at_stack_start"] = machine.load_average()
                sampler.phase, sampler.services = "stack", True
                stack_phase(mode, args, sampler, results)
                sampler.services = False
        results["memory_peak_bytes"] = {phase: dict(p) for phase, p in sampler.peaks.items() if phase != "setup"}
    results["durations"]["total_s"] = round(time.monotonic() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = RESULTS / f"{stamp}-{mode_name}{'-' + args.label if args.label else ''}.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    text = report.render(results)
    print(text)
    if args.output:
        report.update_file(Path(args.output), text)
        log(f"wrote {args.output} and {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
