"""What one commit of the job's Delta sink costs, on an empty table and on a large one.

The sink's committer reads the log once when it starts and then only the versions written since,
one GET each, and creates the next version with a conditional PUT: a commit's cost should not grow
with the table. This drives the real writer and committer (connectors/delta, AppendTool) with the
same rows into two tables, one empty and one holding many rows, and compares the steady-state
commit times (every commit after the first of each process; the first also reads the log).

The two tables take turns, in rounds ordered empty, large, large, empty, ... (each turn a fresh
committer process with a few commits), so that a machine whose speed drifts during the phase
(other work, JIT, S3 compaction) weighs on both alike: a commit takes about 10 ms here, and one
table measured after the other differed by a third with nothing changed between them."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

import numpy as np

from bench import queries
from lakehouse.config import Settings
from lakehouse.lake import storage, tables
from tests import delta_tool

Log = Callable[[str], None]
SPEC = tables.ORDER_EVENTS


def _rows(count: int) -> list[dict]:
    chunk = queries._events_chunk(np.random.default_rng(11), 50_000_000, count)
    rows = chunk.to_pylist()
    for row in rows:
        row["event_time"] = row["event_time"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return rows


def compare(
    tables_by_name: dict[str, Settings], *, commits: int, rows_per_commit: int, rounds: int, log: Log
) -> dict[str, dict]:
    """``commits`` commits into each table, split into ``rounds`` turns per table in ABBA order;
    per table: the first commit of its first turn, and the median and p90 of every later commit
    of every turn (each turn's first commit reads the log and is left out)."""
    names = list(tables_by_name)
    per_turn = max(2, commits // rounds)
    times: dict[str, list[float]] = {name: [] for name in names}
    first: dict[str, float] = {}
    started = time.monotonic()
    for turn in range(rounds):
        order = names if turn % 2 == 0 else names[::-1]
        for name in order:
            got = commit_times(tables_by_name[name], commits=per_turn, rows_per_commit=rows_per_commit, log=log)
            first.setdefault(name, got["times_ms"][0])
            times[name] += got["times_ms"][1:]
    log(f"commit cost: {rounds} rounds of {per_turn} commits per table in {time.monotonic() - started:.1f}s")
    return {
        name: {
            "commits": rounds * per_turn,
            "rows_per_commit": rows_per_commit,
            "rounds": rounds,
            "first_commit_ms": first[name],
            "median_commit_ms": statistics.median(times[name]),
            "p90_commit_ms": float(np.percentile(times[name], 90)),
        }
        for name in names
    }


def commit_times(settings: Settings, *, commits: int, rows_per_commit: int, log: Log) -> dict:
    """Commit ``commits`` batches of ``rows_per_commit`` rows into the settings' silver.order_events
    in one committer process; ``times_ms`` lists every commit's time, the first one reading the log."""
    storage.ensure_tables(settings, (SPEC,))
    env = {}
    if settings.tables_uri().startswith("s3://"):
        env = {"AWS_ACCESS_KEY_ID": settings.s3_access_key, "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key}
    started = time.monotonic()
    results = delta_tool.append(
        storage.table_uri(settings, SPEC),
        SPEC,
        _rows(commits * rows_per_commit),
        app_id=f"bench-commits-{time.time_ns()}",
        batches=commits,
        s3_endpoint=settings.s3_endpoint or None,
        env=env,
    )
    times = [r["commit_ms"] for r in results]
    steady = times[1:] or times
    out = {
        "commits": len(times),
        "rows_per_commit": rows_per_commit,
        "first_commit_ms": times[0],
        "median_commit_ms": statistics.median(steady),
        "p90_commit_ms": float(np.percentile(steady, 90)),
        "seconds": round(time.monotonic() - started, 1),
        "times_ms": times,
    }
    log(
        f"commit cost on {storage.table_uri(settings, SPEC)}: "
        + json.dumps({k: v for k, v in out.items() if k != "times_ms"})
    )
    return out
