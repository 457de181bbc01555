"""What one commit of the job's Delta sink costs, on an empty table and on a large one.

The sink's committer reads the log once when it starts and then only the versions written since,
one GET each, and creates the next version with a conditional PUT: a commit's cost should not grow
with the table. This drives the real writer and committer (connectors/delta, AppendTool) with the
same rows into two tables, one empty and one holding many rows, and compares the steady-state
commit times (every commit after the first; the first also reads the log)."""

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


def commit_times(settings: Settings, *, commits: int, rows_per_commit: int, log: Log) -> dict:
    """Commit ``commits`` batches of ``rows_per_commit`` rows into the settings' silver.order_events."""
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
    }
    log(f"commit cost on {storage.table_uri(settings, SPEC)}: " + json.dumps(out))
    return out
