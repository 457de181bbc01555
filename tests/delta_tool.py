"""Runs the Delta connector's writer and committer outside a job (connectors/delta, AppendTool):
rows in, committables per batch, each delivered one or more times, as a Flink job would."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lakehouse.lake.tables import TableSpec
from lakehouse.pipeline import packaging


def classpath() -> str:
    import pyflink

    flink_lib = Path(pyflink.__file__).resolve().parent / "lib"
    jars = [packaging.connector_jar(), *packaging.connector_dependencies()]
    return ":".join([*map(str, jars), f"{flink_lib}/*"])


def append(
    table: str,
    spec: TableSpec,
    rows: list[dict],
    *,
    app_id: str = "tool",
    version: int = 1,
    batches: int = 1,
    deliveries: int = 1,
    checkpoint_interval: int = 0,
    s3_endpoint: str | None = None,
    env: dict[str, str] | None = None,
) -> list[dict]:
    """Write ``rows`` into the Delta table at ``table``; one JSON result per delivery."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        for row in rows:
            handle.write(json.dumps({k: _plain(v) for k, v in row.items()}) + "\n")
    columns = ", ".join(f"{name} {kind}" for name, kind in spec.columns)
    command = ["java", "-Xmx256m", "-cp", classpath(), "lakehouse.delta.sink.AppendTool"]
    command += ["--table", table, "--columns", columns, "--rows", handle.name, "--app-id", app_id]
    command += ["--version", str(version), "--batches", str(batches), "--deliveries", str(deliveries)]
    command += ["--checkpoint-interval", str(checkpoint_interval)]
    if spec.partition_by:
        command += ["--partition", ",".join(spec.partition_by)]
    if s3_endpoint:
        command += ["--s3-endpoint", s3_endpoint]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})
    finally:
        os.unlink(handle.name)
    if done.returncode != 0:
        raise RuntimeError(f"AppendTool failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _plain(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return value


def sample_events(count: int, start: int = 0) -> list[dict]:
    """``count`` silver.order_events rows (ORDER_PLACED, EUR) around a midnight, numbered from ``start``."""
    base = datetime(2026, 1, 1, 23, 59, tzinfo=UTC)
    return [
        {
            "event_id": f"E{i:06d}",
            "event_type": "ORDER_PLACED",
            "order_id": f"O{i // 2:06d}",
            "event_time": base + timedelta(seconds=7 * i),
            "customer_id": f"C{i % 13:04d}",
            "quantity": 1 + i % 5,
            "amount": round(10 + 0.25 * i, 2),
            "currency": "EUR",
            "is_late": False,
            "dt": (base + timedelta(seconds=7 * i)).date().isoformat(),
        }
        for i in range(start, start + count)
    ]
