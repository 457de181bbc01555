"""The local stack's benchmarks: end-to-end throughput, the blackhole ceiling, and freshness.

Throughput: N events are produced to Kafka first, flat out; then the job, as deployed (unbounded
Kafka sources), is submitted and its progress read from Flink's operator metrics every 0.5 s.
Clocks, all from the job's start-time (REST API), so deployment and Python worker start count:
- Flink: until the order-events source operator has emitted every record (its numRecordsOut):
  the same clock for the pipeline and the blackhole ceiling, so their ratio compares like with
  like. Backpressure keeps the source within a few network buffers of the slowest operator, so
  this is the rate the whole plan sustains; the filesystem sink's operator carries no table name,
  so a per-sink count is not available.
- end to end (pipeline only): until the last silver.order_events row is readable in Delta
  (committed by the job's own Delta sink when the checkpoint holding it completes).
Neither includes `flink run`'s own 15-35 s (planning and upload), reported apart. A bounded source
(scan.bounded.mode) would give a natural end, but with watermark alignment the Kafka connector
5.0.0-2.2 fails when a finished split is paused ("No current assignment for partition").

Freshness (bench/freshness.py): the job runs unbounded; events are produced at a fixed rate and a
reader polls Delta. Every job gets its settings through config.job_environment (flink_cluster.submit).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from bench import memory, stats, threads
from bench.memory import Sampler
from lakehouse import config, contract
from lakehouse.config import Settings
from lakehouse.lake import storage, tables
from lakehouse.pipeline import flink_cluster
from lakehouse.sources import generator, producer

Log = Callable[[str], None]


@dataclass(kw_only=True)
class Input:
    prefix: str
    records: int  # every message produced: order events and dimension changes
    order_events: int
    silver_rows: int  # distinct valid order events: silver.order_events once everything is committed
    produce_seconds: float


def run_settings(*, prefix: str, name: str, **overrides) -> Settings:
    root = f"s3://lakehouse/bench/{name}"
    return config.load(
        "local",
        topic_prefix=prefix,
        table_root=f"{root}/tables",
        job_name=name,
        **overrides,
    )


# The throughput runs' kinds: the pipeline into Delta, the same plan into blackhole (the ceiling),
# and the parse-only reference (the order-events source, decoding, parsing, the contract and
# lateness into blackhole: what the plan costs before any join, window or sink).
SINK_KINDS = {"delta": ("delta", ""), "blackhole": ("blackhole", ""), "parse-only": ("blackhole", "staging")}


def expected_silver_rows(dataset: generator.Dataset) -> int:
    """Distinct events silver.order_events ends with: every valid event, late ones included, and the
    contract-valid orders that only enrichment rejects (unknown customer at event time)."""
    ids = set()
    for record in dataset.orders:
        reason = record.expect.get("quarantine")
        if reason is None:
            ids.add(record.expect["event"]["event_id"])
        elif reason == contract.REASON_UNKNOWN_CUSTOMER:
            ids.add(json.loads(record.value)["event_id"])
    return len(ids)


def produce_input(gen: generator.GeneratorConfig, *, log: Log) -> Input:
    """Generate and publish the throughput runs' input once, flat out; every run reads it."""
    started = time.monotonic()
    dataset = generator.generate(gen)
    log(f"generated {sum(len(s) for s in dataset.streams().values()):,} records in {time.monotonic() - started:.1f}s")
    prefix = f"bench{uuid.uuid4().hex[:6]}-"
    bootstrap = config.load("local").kafka_bootstrap
    producer.ensure_topics(bootstrap, prefix)
    started = time.monotonic()
    sent = producer.produce(dataset, bootstrap=bootstrap, prefix=prefix, log=log, progress_seconds=3600)
    return Input(
        prefix=prefix,
        records=sent,
        order_events=len(dataset.orders),
        silver_rows=expected_silver_rows(dataset),
        produce_seconds=time.monotonic() - started,
    )


def delta_rows(settings: Settings, spec: tables.TableSpec) -> int:
    """Rows in a Delta table from its log's per-file statistics (no data file is read)."""
    try:
        table = DeltaTable(storage.table_uri(settings, spec), storage_options=settings.reader_storage_options())
    except Exception:  # noqa: BLE001 - not created yet
        return 0
    actions = pa.table(table.get_add_actions(flatten=True))
    return int(pc.sum(actions["num_records"]).as_py() or 0) if actions.num_rows else 0


def taskmanager_pid() -> int:
    """The pid of this stack's one TaskManager."""
    pids = memory.own_pids("flink-taskmanager")
    if len(pids) != 1:
        raise RuntimeError(f"expected one TaskManager of this stack to watch, found {len(pids)} ({pids})")
    return pids[0]


def fresh_taskmanager(*, log: Log) -> float:
    """Replace the session cluster's TaskManager before a run; return the seconds it took.

    Each run then starts alike (no JIT or Python environment left warm by the previous job), and a
    TaskManager worn by earlier jobs cannot fail this one: after four or five jobs on one
    TaskManager a checkpoint upload to S3 failed with "Trying to access closed classloader", and the
    failover then killed the TaskManager ("Reference count must not be negative" in Beam's
    DefaultJobBundleFactory)."""
    started = time.monotonic()
    script = str(flink_cluster.REPO / "infra" / "flink" / "flink.sh")
    env = flink_cluster.clean_environment()
    subprocess.run([script, "stop-taskmanager"], capture_output=True, text=True, timeout=120, env=env)
    done = subprocess.run([script, "start-taskmanager"], capture_output=True, text=True, timeout=180, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"flink.sh start-taskmanager failed: {done.stderr[-2000:]}")
    seconds = time.monotonic() - started
    log(f"fresh TaskManager in {seconds:.1f}s")
    return seconds


def commit_costs(settings: Settings, spec: tables.TableSpec) -> dict:
    """The job's commits into a table, from the Delta history: how many, and rows per commit."""
    table = DeltaTable(storage.table_uri(settings, spec), storage_options=settings.reader_storage_options())
    commits = [entry for entry in table.history() if entry.get("operation") == "STREAMING UPDATE"]
    rows = [int(entry.get("lakehouse.rows", 0)) for entry in commits]
    return {
        "silver_commits": len(commits),
        "silver_rows_per_commit_mean": sum(rows) / len(rows) if rows else None,
    }


class _Progress:
    """Summed operator metrics of a running job, found by name (operator names carry plan ids)."""

    def __init__(self, settings: Settings, job_id: str) -> None:
        self.settings, self.job_id = settings, job_id
        self._where: dict[str, tuple[str, str]] = {}  # wanted -> (vertex id, metric id)

    def _find(self, contains: str, suffix: str) -> tuple[str, str] | None:
        details = flink_cluster.job_details(self.settings, self.job_id)
        for vertex in details["vertices"]:
            names = flink_cluster.rest(self.settings, f"/jobs/{self.job_id}/vertices/{vertex['id']}/subtasks/metrics")
            for metric in names:
                if contains in metric["id"] and metric["id"].endswith(suffix):
                    return vertex["id"], metric["id"]
        return None

    def names(self, contains: str) -> list[str]:
        """Metric ids containing ``contains`` over every vertex (for diagnostics)."""
        found = []
        for vertex in flink_cluster.job_details(self.settings, self.job_id)["vertices"]:
            path = f"/jobs/{self.job_id}/vertices/{vertex['id']}/subtasks/metrics"
            found += [m["id"] for m in flink_cluster.rest(self.settings, path) if contains in m["id"]]
        return found

    def value(self, contains: str, suffix: str) -> float | None:
        key = f"{contains}*{suffix}"
        if key not in self._where:
            found = self._find(contains, suffix)
            if found is None:
                return None
            self._where[key] = found
        vertex, metric = self._where[key]
        got = flink_cluster.rest(self.settings, f"/jobs/{self.job_id}/vertices/{vertex}/subtasks/metrics?get={metric}")
        return float(got[0]["sum"]) if got else None


def failure(settings: Settings, job_id: str) -> str:
    found = flink_cluster.failures(settings, job_id)
    if not found:
        return "no exception recorded"
    causes = [line for line in found[0]["stacktrace"].splitlines() if line.startswith(("Caused by", "java."))]
    return " | ".join(causes[-2:])[:600]


def throughput_run(
    data: Input,
    *,
    parallelism: int,
    sink_mode: str,
    checkpoint_interval_ms: int,
    sampler: Sampler | None,
    log: Log,
    timeout: float | None = None,
    state_backend: str = "",
    watch_threads: bool = False,
) -> dict:
    """One run over the produced input (the job as deployed: unbounded); returns its clocks and rates.

    ``watch_threads``: also the TaskManager's CPU seconds per thread group over the run
    (bench/threads.py), under "taskmanager_threads"."""
    name = f"bench-{sink_mode}-p{parallelism}-{uuid.uuid4().hex[:6]}"
    connector, outputs = SINK_KINDS[sink_mode]
    settings = run_settings(
        prefix=data.prefix,
        name=name,
        parallelism=parallelism,
        sink_mode=connector,
        outputs=outputs,
        checkpoint_interval_ms=checkpoint_interval_ms,
        state_backend=state_backend,
    )
    taskmanager_seconds = fresh_taskmanager(log=log)
    watch = threads.Watch(taskmanager_pid()).start() if watch_threads else None
    writes = sink_mode == "delta"
    if writes:
        storage.ensure_tables(settings)
    submit_started = time.monotonic()
    cpu_before = memory.cpu_seconds()
    machine_before = memory.machine_ticks()
    try:
        job_id = flink_cluster.submit(settings)
    except BaseException:
        if watch:  # no run to watch: the watch would poll this TaskManager until it is replaced
            watch.stop()
        raise
    submit_seconds = time.monotonic() - submit_started
    log(f"{name}: submitted in {submit_seconds:.1f}s (job {job_id})")
    progress = _Progress(settings, job_id)
    marks: dict[str, float] = {}  # clock name -> wall time (ms) it was reached
    rows = 0
    timeout = timeout or 120 + data.records / 2000  # generous: the slowest runs seen here are ~5k events/s
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            details = flink_cluster.job_details(settings, job_id)
            if details["state"] not in ("RUNNING", "CREATED", "INITIALIZING"):
                raise RuntimeError(f"{name}: job {details['state']}: {failure(settings, job_id)}")
            now_ms = time.time() * 1000
            if "source_read" not in marks:
                read = progress.value("src_order_events", ".numRecordsOut")
                if "first_record" not in marks and read:
                    marks["first_record"] = now_ms
                if read is not None and read >= data.order_events:
                    marks["source_read"] = now_ms
            if not writes and "source_read" in marks:
                break
            if writes and "source_read" in marks:
                rows = delta_rows(settings, tables.ORDER_EVENTS)
                if rows >= data.silver_rows:
                    marks["silver_committed"] = time.time() * 1000
                    break
            time.sleep(0.5)
        else:
            raise TimeoutError(
                f"{name}: not done after {timeout:.0f}s (marks {marks}, silver rows {rows:,}; "
                f"source metrics: {progress.names('src_order_events')[:20]})"
            )
        # Before the cancel: the job's Python workers end with it, and their CPU time with them.
        cpu = memory.cpu_used(cpu_before, memory.cpu_seconds())
        machine_busy = memory.busy_share(machine_before, memory.machine_ticks())
    finally:
        if watch:
            watch.stop()
        if flink_cluster.job_state(settings, job_id) in ("RUNNING", "RESTARTING", "CREATED", "INITIALIZING"):
            flink_cluster.cancel(settings, job_id)
    start_ms = details["start-time"]
    seconds = {mark: (at - start_ms) / 1000 for mark, at in marks.items()}
    result = {
        "run": name,
        "sink": sink_mode,
        "parallelism": parallelism,
        "events": data.records,
        "submit_seconds": round(submit_seconds, 1),
        "taskmanager_start_seconds": round(taskmanager_seconds, 1),
        "checkpoint_interval_ms": checkpoint_interval_ms,
        "state_backend": state_backend or "cluster default",
        "flink_seconds": seconds["source_read"],
        "flink_events_per_second": data.records / seconds["source_read"],
        # Deployment, Python worker start and the first fetch: before the source emits anything.
        "first_record_s": seconds.get("first_record"),
        "after_first_record_events_per_second": stats.rate(
            data.records, seconds["source_read"] - seconds.get("first_record", 0)
        ),
        # CPU seconds per service from submission to the last clock (the `flink run` client apart):
        # where the run's work went, whatever else the machine was doing.
        "cpu_seconds": cpu,
        # The share of all cores busy over the same span, whatever used them (1.0: none idle).
        "machine_busy_share": machine_busy,
    }
    if watch:
        result["taskmanager_threads"] = watch.top()
    if "silver_committed" in seconds:
        result.update(
            e2e_seconds=seconds["silver_committed"],
            e2e_events_per_second=data.records / seconds["silver_committed"],
            silver_rows=rows,
            **commit_costs(settings, tables.ORDER_EVENTS),
        )
    log(f"{name}: " + json.dumps({k: v for k, v in result.items() if k != "run"}, default=str))
    return result
