"""The embedded default: generated events -> the orders pipeline on the Flink mini-cluster ->
Delta tables on local disk (the job's Delta sink commits at every checkpoint), with progress."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from lakehouse.config import Settings
from lakehouse.lake import read_model, storage, tables
from lakehouse.sources import generator

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
    """Run the pipeline job to completion on the mini-cluster; the job commits to Delta itself.

    Returns the rows committed per table by this run. A run of the input the tables already hold
    does nothing (0 everywhere); a run that was stopped part-way (cancelled, killed) resumes from
    its last retained checkpoint, so the input lands once (see docs/DESIGN.md, "Reruns").
    ``stop_when`` cancels the job as soon as it returns true for the rows committed so far: an
    abrupt stop without a savepoint, as after a crash. Between polls the order read model
    (gold.orders_current) follows silver.order_events.
    """
    from jobs import orders_pipeline
    from lakehouse.pipeline.flink_env import create_table_env

    storage.ensure_tables(settings)
    runs = RunRecord(settings)
    record = runs.load()
    digest = input_digest(settings)
    before = committed_rows(settings)
    if record.get("input") == digest and record.get("status") == "finished" and runs.tables_intact(record):
        log(
            f"input {digest[:12]} is already committed to {settings.tables_uri()} (run of {record.get('finished_at')}); nothing to do"
        )
        read_model.follow(settings)
        return {spec.name: 0 for spec in tables.ALL}
    restore = runs.latest_checkpoint() if record.get("input") == digest else None
    if record and record.get("input") != digest:
        runs.clear_checkpoints()
    runs.save({"input": digest, "status": "running"})
    t_env = create_table_env(settings, extra_options=runs.checkpoint_options(restore))
    result = orders_pipeline.build(t_env, settings).execute()
    client = result.get_job_client()
    resumed = f", resuming from {restore}" if restore else ""
    log(
        f"flink: job {settings.job_name} started on the mini-cluster (id {client.get_job_id()}, "
        f"parallelism {settings.parallelism}{resumed})"
    )
    started = time.monotonic()
    status = "RUNNING"
    inserted = _inserted(settings, before)
    while status not in _TERMINAL:
        status = _status_after(client, result, poll_seconds)
        inserted = _inserted(settings, before)
        read_model.follow(settings)
        log(f"[{time.monotonic() - started:5.0f}s] job {status.lower():9s} | " + _progress(inserted))
        if stop_when is not None and status == "RUNNING" and stop_when(inserted):
            if _cancel(client):
                log(
                    f"[{time.monotonic() - started:5.0f}s] job cancelled on request (a rerun resumes from its last checkpoint)"
                )
            else:  # it finished while this pass polled: the input is committed, record it so
                # (a rerun would otherwise find no retained checkpoint and write everything again)
                if _status(client, result) == "FINISHED":
                    runs.finish(digest)
                log(f"[{time.monotonic() - started:5.0f}s] job had finished before the cancel; stopped here")
            return _inserted(settings, before)
    if status != "FINISHED":
        result.wait()  # raises with Flink's own error message
        raise RuntimeError(f"flink job ended {status}")
    ended_at = time.monotonic()
    inserted = _inserted(settings, before)
    read_model.follow(settings)
    runs.finish(digest)
    log(
        f"[{time.monotonic() - started:5.0f}s] done | "
        + _progress(inserted)
        + f" ({time.monotonic() - ended_at:.1f}s after the job ended)"
    )
    return inserted


def _status_after(client, result, seconds: float, step: float = 0.25) -> str:
    """The job's status after ``seconds``, or as soon as it ends (checked every ``step``).

    Asked from this thread only, never from a second one: the gateway serves each concurrent Python
    caller on its own JVM thread, and PyFlink keeps a job's jars on the calling JVM thread's context
    class loader, so a call from another thread could leave the next run planned without the Delta
    connector ("Could not find any factory for identifier 'delta'")."""
    deadline = time.monotonic() + seconds
    while True:
        status = _status(client, result)
        left = deadline - time.monotonic()
        if status in _TERMINAL or left <= 0:
            return status
        time.sleep(min(step, left))


def committed_rows(settings: Settings, specs: tuple[tables.TableSpec, ...] = tables.ALL) -> dict[str, int]:
    """Rows per table as its Delta log counts them (the add actions' statistics; no data read)."""
    out = {}
    for spec in specs:
        table = DeltaTable(storage.table_uri(settings, spec), storage_options=settings.storage_options())
        actions = pa.table(table.get_add_actions(flatten=True))
        out[spec.name] = int(pc.sum(actions["num_records"]).as_py() or 0) if actions.num_rows else 0
    return out


def _inserted(settings: Settings, before: dict[str, int]) -> dict[str, int]:
    now = committed_rows(settings)
    return {name: now[name] - before.get(name, 0) for name in now}


def input_digest(settings: Settings) -> str:
    """What identifies the input: the generator's manifest (configuration and counts)."""
    manifest = settings.input_dir / "manifest.json"
    data = manifest.read_bytes() if manifest.exists() else str(settings.input_dir).encode()
    return hashlib.sha256(data).hexdigest()


def _checkpoint_number(directory: Path) -> int:
    number = directory.name.removeprefix("chk-")
    return int(number) if number.isdigit() else -1


class RunRecord:
    """Where embedded runs of this job stand, beside its retained checkpoints: which input the
    tables hold, and whether the last run finished (``<data dir>/runs/<job>/run.json``)."""

    def __init__(self, settings: Settings) -> None:
        # Keyed by job and table version, not by absolute path, so a copied data directory keeps it;
        # ``tables_intact`` notices tables that were replaced or removed.
        self.directory = (
            settings.data_dir / "runs" / "-".join(filter(None, (settings.job_name, settings.table_version)))
        )
        self.checkpoints = self.directory / "checkpoints"
        self.path = self.directory / "run.json"
        self.settings = settings

    def load(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def save(self, record: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True))
        tmp.replace(self.path)

    def finish(self, digest: str) -> None:
        versions = {
            spec.name: DeltaTable(
                storage.table_uri(self.settings, spec), storage_options=self.settings.storage_options()
            ).version()
            for spec in tables.ALL
        }
        self.save(
            {
                "input": digest,
                "status": "finished",
                "versions": versions,
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        )
        self.clear_checkpoints()

    def tables_intact(self, record: dict) -> bool:
        """The tables still hold at least what the finished run committed (nobody deleted them)."""
        for spec in tables.ALL:
            uri = storage.table_uri(self.settings, spec)
            if not DeltaTable.is_deltatable(uri, storage_options=self.settings.storage_options()):
                return False
            version = DeltaTable(uri, storage_options=self.settings.storage_options()).version()
            if version < record.get("versions", {}).get(spec.name, 0):
                return False
        return True

    def checkpoint_options(self, restore: Path | None) -> dict[str, str]:
        options = {
            "execution.checkpointing.dir": self.checkpoints.resolve().as_uri(),
            # Kept when the job is cancelled or its process dies: the next run resumes from it.
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        }
        if restore is not None:
            options["execution.state-recovery.path"] = restore.resolve().as_uri()
        return options

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint of an earlier run: the one whose _metadata (written last,
        when the checkpoint completes) is newest, the higher number on a tie.

        Not the directory's time: when a run is cancelled while Flink is still deleting a subsumed
        checkpoint, deleting its files makes that older directory the most recently modified, and
        resuming from it would replay what the newer one had already committed."""
        complete = list(self.checkpoints.glob("*/chk-*/_metadata"))
        if not complete:
            return None
        newest = max(complete, key=lambda m: (m.stat().st_mtime_ns, _checkpoint_number(m.parent)))
        return newest.parent

    def clear_checkpoints(self) -> None:
        shutil.rmtree(self.checkpoints, ignore_errors=True)


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
