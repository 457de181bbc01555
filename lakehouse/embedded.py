"""The embedded default: generated events -> the orders pipeline on the Flink mini-cluster ->
Delta tables on local disk, committing while the job runs and printing progress."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from lakehouse import committer, generator, tables
from lakehouse.config import Settings

_TERMINAL = {"FINISHED", "FAILED", "CANCELED"}


def prepare_input(
    settings: Settings, gen_config: generator.GeneratorConfig, *, log: Callable[[str], None] = print
) -> int:
    """Generate the input files unless the same configuration is already on disk; return the event count."""
    manifest = settings.input_dir / "manifest.json"
    wanted = json.loads(json.dumps(asdict(gen_config)))
    if manifest.exists():
        existing = json.loads(manifest.read_text())
        if existing.get("config") == wanted:
            log(f"input: reusing {settings.input_dir} (seed {gen_config.seed})")
            return sum(existing["counts"].values())
    started = time.monotonic()
    dataset = generator.generate(gen_config)
    generator.write(dataset, settings.input_dir)
    counts = {stream: len(records) for stream, records in dataset.streams().items()}
    log(
        f"input: generated {sum(counts.values()):,} events ({counts['order-events']:,} order events, "
        f"{counts['customers']} customer and {counts['products']} product changes) "
        f"in {time.monotonic() - started:.1f}s into {settings.input_dir}"
    )
    return sum(counts.values())


def run_pipeline(
    settings: Settings,
    *,
    log: Callable[[str], None] = print,
    poll_seconds: float = 3.0,
    stop_when: Callable[[dict[str, int]], bool] | None = None,
) -> dict[str, int]:
    """Run the pipeline job to completion on the mini-cluster, committing to Delta as files appear.

    Returns the rows inserted per table by this run (0 everywhere when the same input ran before).
    ``stop_when`` cancels the job as soon as it returns true for the rows inserted so far: an
    abrupt stop without a savepoint, as after a crash.
    """
    from jobs import orders_pipeline
    from lakehouse.flink_env import create_table_env

    committer.ensure_tables(settings)
    t_env = create_table_env(settings)
    result = orders_pipeline.build(t_env, settings).execute()
    client = result.get_job_client()
    log(
        f"flink: job {settings.job_name} started on the mini-cluster (id {client.get_job_id()}, parallelism {settings.parallelism})"
    )
    inserted = {spec.name: 0 for spec in tables.ALL}
    started = time.monotonic()
    status = "RUNNING"
    while status not in _TERMINAL:
        time.sleep(poll_seconds)
        status = _status(client, result)
        _commit(settings, inserted)
        log(f"[{time.monotonic() - started:5.0f}s] job {status.lower():9s} | " + _progress(inserted))
        if stop_when is not None and status == "RUNNING" and stop_when(inserted):
            if _cancel(client):
                log(f"[{time.monotonic() - started:5.0f}s] job cancelled on request")
            else:  # it finished while this pass committed; its last files wait for the next run
                log(f"[{time.monotonic() - started:5.0f}s] job had finished before the cancel; stopped here")
            return inserted
    if status != "FINISHED":
        result.wait()  # raises with Flink's own error message
        raise RuntimeError(f"flink job ended {status}")
    _commit(settings, inserted)  # the final checkpoint's files
    log(f"[{time.monotonic() - started:5.0f}s] done | " + _progress(inserted))
    return inserted


def _cancel(client) -> bool:
    """Cancel the job; False when it had already ended by itself (the per-job mini-cluster is
    gone, or the job is in a terminal state), which a fast job can do between two polls."""
    try:
        client.cancel().result()
        return True
    except Exception:
        try:
            status = str(client.get_job_status().result()).split(".")[-1]
        except Exception:  # noqa: BLE001 - the mini-cluster shut down with the job
            return False
        if status in _TERMINAL:
            return False
        raise


def _status(client, result) -> str:
    try:
        return str(client.get_job_status().result()).split(".")[-1]
    except Exception:  # noqa: BLE001 - the per-job mini-cluster shuts down as soon as the job ends
        result.wait()  # raises Flink's own error when the job failed
        return "FINISHED"


def _commit(settings: Settings, inserted: dict[str, int]) -> None:
    for result in committer.commit_pending(settings):
        inserted[result.table] += result.rows_inserted


def _progress(inserted: dict[str, int]) -> str:
    short = {
        "silver.order_events": "events",
        "silver.orders_enriched": "enriched",
        "gold.order_metrics_1m": "1m",
        "gold.anomalies": "anomalies",
        "bronze.quarantine": "quarantine",
        "bronze.late_events": "late",
    }
    return " ".join(f"{label}={inserted[name]:,}" for name, label in short.items())


def write_run_report(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True))
