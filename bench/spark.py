"""The Spark peer in the benchmark: bench/peers/spark_streaming.py run on the same input as the
Flink job, in the same session, with the clocks the Flink runs use where Spark lets them be read.

Clocks of a throughput run, all from the moment the silver streaming query has started (the
peer's ``query_started`` line: after the JVM, jar resolution and table creation, which are
reported apart like `flink run`'s submission):
- first record: the start of the first micro-batch that read order events (a micro-batch shows
  nothing downstream until it ends, so this is when the source began reading);
- end to end: until the last silver.order_events row is readable in Delta on S3, polled exactly
  as for the Flink job (the same function on the same kind of table).
Freshness: the same producer at the same rate and the same Delta poller as the Flink run, started
once both queries have run their first (empty) micro-batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

from bench import freshness, stack, stats
from bench.memory import Sampler
from lakehouse import config
from lakehouse.lake import tables
from lakehouse.pipeline import flink_cluster
from lakehouse.sources import generator, producer

REPO = Path(__file__).resolve().parent.parent
PEER = "bench.peers.spark_streaming"
MEMORY_NAME = "spark peer (driver JVM + python)"
LOGS = Path(tempfile.gettempdir()) / "lakehouse-spark-peer"  # the peer's stderr, one file per run
Log = stack.Log


def ensure_installed(*, log: Log) -> None:
    """The `spark` extra, added to this venv by the project's bootstrap on first use."""
    try:
        import delta  # noqa: F401
        import pyspark  # noqa: F401

        return
    except ImportError:
        pass
    log("installing the spark extra (first use)")
    env = {**os.environ, "LAKEHOUSE_EXTRAS": "spark"}
    done = subprocess.run([str(REPO / "scripts" / "bootstrap.sh")], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bootstrap of the spark extra failed:\n{done.stderr[-2000:]}")


class Peer:
    """The peer as a subprocess; its JSON progress lines are collected with their arrival time."""

    def __init__(self, settings: config.Settings, *, app_id: str, args: tuple[str, ...] = ()):
        self.command = [
            sys.executable,
            "-m",
            PEER,
            "--bootstrap",
            settings.kafka_bootstrap,
            "--topic-prefix",
            settings.topic_prefix,
            "--table-root",
            settings.table_root,
            "--s3-endpoint",
            settings.s3_endpoint,
            "--app-id",
            app_id,
            *args,
        ]
        log_path = LOGS / f"{app_id}.log"
        self.log_path = log_path
        self.events: list[dict] = []
        self.launched_at = time.time()
        env = {**flink_cluster.clean_environment(), "PYTHONPATH": str(REPO)}
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._stderr = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=self._stderr, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True, name="spark-peer-stdout")
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            try:
                self.events.append(json.loads(line))
            except json.JSONDecodeError:
                continue

    def started_at(self, event: str = "started") -> float | None:
        return next((e["at"] for e in list(self.events) if e["event"] == event), None)

    def progress(self, query: str) -> list[dict]:
        return [e for e in list(self.events) if e["event"] == "progress" and e["query"] == query]

    def check(self) -> None:
        if self.process.poll() is not None and self.process.returncode != 0:
            tail = self.log_path.read_text()[-3000:] if self.log_path.exists() else ""
            raise RuntimeError(f"the Spark peer exited with {self.process.returncode}:\n{tail}")

    def wait_started(self, *, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            if (at := self.started_at()) is not None:
                return at
            time.sleep(0.25)
        raise TimeoutError(f"the Spark peer did not start its queries in {timeout:.0f}s (log {self.log_path})")

    def wait_exit(self, *, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        self.check()
        return code

    def stop(self) -> None:
        """SIGTERM (the JVM's shutdown hooks stop the queries), then SIGKILL after 30 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        self._stderr.close()


def _peer_args(cores: int) -> tuple[str, ...]:
    return ("--cores", str(cores), "--driver-memory", "1g")


def throughput_run(data: stack.Input, *, cores: int, sampler: Sampler | None, log: Log, timeout: float | None = None):
    """The peer over the produced input (unbounded queries), with the Flink run's e2e clock."""
    name = f"bench-spark-c{cores}-{uuid.uuid4().hex[:6]}"
    settings = stack.run_settings(prefix=data.prefix, name=name)
    peer = Peer(settings, app_id=name, args=_peer_args(cores))
    if sampler is not None:
        sampler.extra[MEMORY_NAME] = peer.process.pid
    rows = 0
    try:
        peer.wait_started(timeout=300)
        # From the silver query's start, as the Flink clock runs from the job's start-time (the
        # gold query starts a second or two later; its first batch reads nothing yet).
        start = peer.started_at("query_started")
        submit_seconds = start - peer.launched_at
        log(f"{name}: queries started {submit_seconds:.1f}s after launch")
        deadline = time.monotonic() + (timeout or 120 + data.records / 1000)
        committed_at = None
        while time.monotonic() < deadline:
            peer.check()
            rows = stack.delta_rows(settings, tables.ORDER_EVENTS)
            if rows >= data.silver_rows:
                committed_at = time.time()
                break
            time.sleep(0.5)
        if committed_at is None:
            raise TimeoutError(f"{name}: silver has {rows:,} of {data.silver_rows:,} rows after the deadline")
        # A batch's progress is reported after its foreachBatch returns: wait for the last one.
        settle = time.monotonic() + 180  # the batch also appends the enriched orders and the quarantine
        while sum(b["rows"] for b in peer.progress("silver")) < data.order_events and time.monotonic() < settle:
            time.sleep(0.25)
    finally:
        peer.stop()
        if sampler is not None:
            sampler.extra.pop(MEMORY_NAME, None)
    batches = peer.progress("silver")
    first = next((b for b in batches if b["rows"]), None)
    first_record_s = iso_datetime(first["batch_started"]).timestamp() - start if first else None
    e2e = committed_at - start
    result = {
        "run": name,
        "engine": "spark",
        "cores": cores,
        "events": data.records,
        "submit_seconds": round(submit_seconds, 1),
        "e2e_seconds": e2e,
        "e2e_events_per_second": data.records / e2e,
        "first_record_s": first_record_s,
        "after_first_record_events_per_second": stats.rate(data.records, e2e - (first_record_s or 0)),
        "silver_rows": rows,
        "micro_batches_with_rows": sum(1 for b in batches if b["rows"]),
        "micro_batches": _batches(peer, start),
        **_commits(settings),
    }
    log(f"{name}: " + json.dumps({k: v for k, v in result.items() if k != "run"}, default=str))
    return result


def _commits(settings: config.Settings) -> dict:
    """The peer's appends into silver.order_events (one per micro-batch with rows), from the Delta history."""
    from deltalake import DeltaTable

    from lakehouse.lake import storage

    uri = storage.table_uri(settings, tables.ORDER_EVENTS)
    history = DeltaTable(uri, storage_options=settings.reader_storage_options()).history()
    rows = [
        int((e.get("operationMetrics") or {}).get("numOutputRows", 0)) for e in history if e.get("operation") == "WRITE"
    ]
    return {"silver_commits": len(rows), "silver_rows_per_commit_mean": sum(rows) / len(rows) if rows else None}


def _batches(peer: Peer, start: float) -> list[list]:
    """[query, batch id, input rows, duration ms, seconds from start at its end] per micro-batch."""
    return [
        [e["query"], e["batch"], e["rows"], e["duration_ms"], round(e["at"] - start, 1)]
        for e in peer.progress("silver") + peer.progress("gold")
    ]


def iso_datetime(text: str) -> datetime:
    """A Spark progress timestamp ("2026-01-01T00:11:54.724Z") as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def freshness_run(*, rate: float, seconds: float, cores: int, poll_every: float, sampler: Sampler | None, log: Log):
    """Produce at a fixed rate into the running peer; p50/p99 of production -> readable in silver,
    and of watermark past a window's end -> its gold.order_metrics_1m row readable."""
    name = f"bench-spark-fresh-c{cores}-{uuid.uuid4().hex[:6]}"
    prefix = f"{name}-"
    settings = stack.run_settings(prefix=prefix, name=name)
    dataset = generator.generate(generator.GeneratorConfig())
    records = producer.in_arrival_order(dataset)[: int(rate * seconds)]
    producer.ensure_topics(settings.kafka_bootstrap, prefix)
    peer = Peer(settings, app_id=name, args=_peer_args(cores))
    if sampler is not None:
        sampler.extra[MEMORY_NAME] = peer.process.pid
    reader = None
    try:
        peer.wait_started(timeout=300)
        deadline = time.monotonic() + 300
        while not (peer.progress("silver") and peer.progress("gold")):  # first (empty) batches done
            peer.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: no first micro-batch after 300 s")
            time.sleep(0.25)
        reader = freshness.Reader(
            settings,
            {tables.ORDER_EVENTS: ("event_id",), tables.METRICS_1M: ("window_end", "region", "category")},
            every=poll_every,
        )
        reader.start()
        log(f"{name}: producing {len(records):,} records at {rate:,.0f}/s")
        produced = freshness.produce_at_rate(records, prefix=prefix, bootstrap=settings.kafka_bootstrap, rate=rate)
        peer.check()
        wanted = set(produced.silver_at)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not wanted <= {
            k[0] for k in list(reader.first_seen[tables.ORDER_EVENTS.name])
        }:
            time.sleep(1)
        time.sleep(max(poll_every * 2, 2))
    finally:
        if reader is not None:
            reader.stop.set()
            reader.join(timeout=30)
        peer.stop()
        if sampler is not None:
            sampler.extra.pop(MEMORY_NAME, None)
    result = {
        "run": name,
        "engine": "spark",
        "cores": cores,
        "rate": rate,
        **freshness.freshness_figures(produced, reader),
        "poll_every_s": poll_every,
        "reader_errors": reader.errors[:3],
        "micro_batches": _batches(peer, peer.started_at() or 0),
    }
    log(f"{name}: " + json.dumps({k: v for k, v in result.items() if k != "run"}, default=str))
    return result
