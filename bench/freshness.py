"""The local stack's freshness benchmark: the job runs unbounded, events are produced at a fixed
rate, and a reader polls Delta (with the read-only identity, as any reader would).

Silver: an event's Kafka CreateTime -> its row readable in silver.order_events. Gold: the moment the
source watermark passed a window's end -> the window's gold.order_metrics_1m row readable.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import pyarrow.parquet as pq
from deltalake import DeltaTable

from bench import stack
from bench.memory import Sampler
from bench.stack import Log
from bench.stats import percentile
from lakehouse import contract
from lakehouse.config import Settings
from lakehouse.lake import storage, tables
from lakehouse.pipeline import flink_cluster
from lakehouse.sources import generator, producer


@dataclass
class Produced:
    """Production time per silver event id, and per partition the (time, event time) of each valid event."""

    silver_at: dict[str, float] = field(default_factory=dict)
    by_partition: dict[int, list[tuple[float, int]]] = field(default_factory=dict)


class Reader(threading.Thread):
    """Polls Delta tables as a reader would; records when each key is first readable."""

    def __init__(self, settings: Settings, specs: dict[tables.TableSpec, tuple[str, ...]], *, every: float) -> None:
        super().__init__(daemon=True, name="freshness-reader")
        self.settings, self.specs, self.every = settings, specs, every
        self.first_seen: dict[str, dict[tuple, float]] = {spec.name: {} for spec in specs}
        self.stop = threading.Event()
        self.errors: list[str] = []
        self._files: dict[str, set[str]] = {spec.name: set() for spec in specs}
        self._tables: dict[str, DeltaTable] = {}
        self._fs, _ = storage.filesystem(settings.tables_uri(), settings, read_only=True)

    def run(self) -> None:
        while not self.stop.is_set():
            for spec, columns in self.specs.items():
                try:
                    self._poll(spec, columns)
                except Exception as error:  # noqa: BLE001 - counted, not fatal: a reader retries
                    self.errors.append(f"{spec.name}: {error}")
            self.stop.wait(self.every)

    def _poll(self, spec: tables.TableSpec, columns: tuple[str, ...]) -> None:
        table = self._tables.get(spec.name)
        if table is None:
            uri = storage.table_uri(self.settings, spec)
            table = self._tables[spec.name] = DeltaTable(uri, storage_options=self.settings.reader_storage_options())
        else:
            table.update_incremental()  # reads only the new log entries
        new = [uri for uri in table.file_uris() if uri not in self._files[spec.name]]
        seen_at = time.time()
        seen = self.first_seen[spec.name]
        for uri in new:
            part = pq.read_table(uri.split("://", 1)[-1], filesystem=self._fs, columns=list(columns))
            for key in zip(*(part[c].to_pylist() for c in columns), strict=True):
                seen.setdefault(key, seen_at)
            self._files[spec.name].add(uri)


def produce_at_rate(records: list[generator.Record], *, prefix: str, bootstrap: str, rate: float) -> Produced:
    from confluent_kafka import Producer

    produced = Produced()
    # Lingering trades latency for batching; a freshness run wants each event on its way at once.
    client = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    failures: list[str] = []

    def delivered(record: generator.Record):
        def on_delivery(err, msg) -> None:
            if err is not None:
                failures.append(str(err))
                return
            at = msg.timestamp()[1] / 1000  # CreateTime: set when produce() was called
            event = record.expect.get("event")
            if event is None or "quarantine" in record.expect:
                return
            produced.silver_at.setdefault(event["event_id"], at)
            if not record.expect.get("late"):
                produced.by_partition.setdefault(msg.partition(), []).append((at, event["ts_ms"]))

        return on_delivery

    started = time.monotonic()
    for sent, record in enumerate(records, start=1):
        callback = delivered(record) if record.stream == "order-events" else None
        client.produce(
            producer.topic_name(prefix, record.stream),
            key=record.key.encode(),
            value=record.value.encode(),
            on_delivery=callback,
        )
        client.poll(0)
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    client.flush(60)
    if failures:
        raise RuntimeError(f"{len(failures)} messages not delivered, e.g. {failures[0]}")
    return produced


def watermark_passed_at(by_partition: dict[int, list[tuple[float, int]]], event_time_ms: int) -> float | None:
    """Wall time at which every partition had produced an event at or past ``event_time_ms`` plus
    the watermark delay: from then on the source watermark is past ``event_time_ms``."""
    threshold = event_time_ms + contract.WATERMARK_DELAY_MS
    moments = []
    for events in by_partition.values():
        moment = next((at for at, ts in events if ts >= threshold), None)
        if moment is None:
            return None
        moments.append(moment)
    return max(moments) if moments else None


def freshness_run(
    *,
    rate: float,
    seconds: float,
    parallelism: int,
    checkpoint_interval_ms: int,
    poll_every: float,
    sampler: Sampler | None,
    log: Log,
    state_backend: str = "",
) -> dict:
    """Produce at a fixed rate into a running job; p50/p99 of production -> readable in silver, and
    of watermark past a window's end -> its gold.order_metrics_1m rows readable."""
    name = f"bench-fresh-p{parallelism}-{uuid.uuid4().hex[:6]}"
    prefix = f"{name}-"
    settings = stack.run_settings(
        prefix=prefix,
        name=name,
        parallelism=parallelism,
        checkpoint_interval_ms=checkpoint_interval_ms,
        state_backend=state_backend,
    )
    dataset = generator.generate(generator.GeneratorConfig())
    records = producer.in_arrival_order(dataset)[: int(rate * seconds)]
    producer.ensure_topics(settings.kafka_bootstrap, prefix)
    storage.ensure_tables(settings)
    stack.fresh_taskmanager(log=log)
    job_id = flink_cluster.submit(settings)
    reader = Reader(
        settings,
        {
            tables.ORDER_EVENTS: ("event_id",),
            tables.METRICS_1M: ("window_end", "region", "category"),
        },
        every=poll_every,
    )
    try:
        flink_cluster.wait_all_tasks_running(settings, job_id)
        time.sleep(5)  # Python workers start when their tasks open
        reader.start()
        log(f"{name}: producing {len(records):,} records at {rate:,.0f}/s")
        produced = produce_at_rate(records, prefix=prefix, bootstrap=settings.kafka_bootstrap, rate=rate)
        state = flink_cluster.job_state(settings, job_id)
        if state != "RUNNING":
            raise RuntimeError(f"{name}: job {state} after production: {stack.failure(settings, job_id)}")
        wanted = set(produced.silver_at)
        deadline = time.monotonic() + 60
        # list() copies in one step: the reader thread adds keys meanwhile.
        while time.monotonic() < deadline and not wanted <= {
            k[0] for k in list(reader.first_seen["silver.order_events"])
        }:
            time.sleep(1)
        time.sleep(max(poll_every * 2, 2))
    finally:
        reader.stop.set()
        reader.join(timeout=30)
        if flink_cluster.job_state(settings, job_id) == "RUNNING":
            flink_cluster.cancel(settings, job_id)
    result = {
        "run": name,
        "parallelism": parallelism,
        "rate": rate,
        **freshness_figures(produced, reader),
        "checkpoint_interval_ms": checkpoint_interval_ms,
        "poll_every_s": poll_every,
        "reader_errors": reader.errors[:3],
    }
    log(f"{name}: " + json.dumps({k: v for k, v in result.items() if k != "run"}, default=str))
    return result


def freshness_figures(produced, reader) -> dict:
    """Silver and gold freshness from what was produced and when the reader first saw each row.

    Silver: an event's Kafka CreateTime -> its row readable in silver.order_events. Gold: the moment
    the source watermark passed a window's end -> the window's gold.order_metrics_1m row readable."""
    silver_seen = reader.first_seen["silver.order_events"]
    silver = [silver_seen[(eid,)] - at for eid, at in produced.silver_at.items() if (eid,) in silver_seen]
    gold = []
    for (window_end, _region, _category), seen_at in reader.first_seen["gold.order_metrics_1m"].items():
        passed = watermark_passed_at(produced.by_partition, int(window_end.timestamp() * 1000))
        if passed is not None:
            gold.append(seen_at - passed)
    return {
        "produced_silver_events": len(produced.silver_at),
        "silver_seen": len(silver),
        "silver_p50_s": percentile(silver, 50),
        "silver_p99_s": percentile(silver, 99),
        "silver_max_s": max(silver) if silver else None,
        "gold_rows": len(gold),
        "gold_p50_s": percentile(gold, 50),
        "gold_p99_s": percentile(gold, 99),
        "gold_max_s": max(gold) if gold else None,
    }
