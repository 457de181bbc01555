"""Helpers of the PostgreSQL -> Debezium -> job test: the CDC services, a per-run database and
connector, a real-time order producer, reading the change topics back, and reading the tables."""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import time
from pathlib import Path

from lakehouse.config import Settings
from lakehouse.lake import storage, tables
from lakehouse.pipeline import flink_cluster
from lakehouse.sources.generator import Record
from tests.compare import read_rows

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = {"postgres": REPO / "infra/postgres/postgres.sh", "connect": REPO / "infra/connect/connect.sh"}
PASSWORDS = ("POSTGRES_APP_PASSWORD", "POSTGRES_CDC_PASSWORD")


def now_ms() -> int:
    return int(time.time() * 1000)


def service(name: str, command: str, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """Run infra/<name>/<name>.sh COMMAND [ARGS] with the session's environment (plus ``env``)."""
    run_env = {**flink_cluster.clean_environment(), **env}
    return subprocess.run(
        [str(SCRIPTS[name]), command, *args], capture_output=True, text=True, timeout=timeout, env=run_env
    )


def ensure_passwords() -> None:
    """Throwaway passwords for this session unless the environment has real ones."""
    for name in PASSWORDS:
        if not os.environ.get(name):
            os.environ[name] = secrets.token_hex(16)


def read_tables(settings: Settings) -> dict[str, list[dict]]:
    """Every table's rows as the job has committed them so far (the one place this test reads results)."""
    return {
        spec.name: read_rows(storage.table_uri(settings, spec), spec, storage_options=settings.storage_options())
        for spec in tables.ALL
    }


def change_records(bootstrap: str, topic: str, *, timeout: float = 30.0) -> list[Record]:
    """Every record of a (one-partition) change topic, tombstones included, with its Kafka time."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{secrets.token_hex(4)}",
                         "enable.auto.commit": False})  # fmt: skip
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        consumer.assign([TopicPartition(topic, 0, low)])
        out: list[Record] = []
        deadline = time.monotonic() + timeout
        while len(out) < high - low and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            value = msg.value().decode() if msg.value() is not None else None
            key = msg.key().decode() if msg.key() else ""
            out.append(Record(stream=topic, key=key, value=value, arrival_ms=msg.timestamp()[1]))
        assert len(out) == high - low, f"read {len(out)} of {high - low} records of {topic}"
        return out
    finally:
        consumer.close()


class RealTimeProducer(threading.Thread):
    """Sends order-event records when the wall clock reaches their arrival time plus ``lag_ms``,
    then, once ``release`` is set, everything left (the orders' later lifecycle events). A record
    whose ``expect`` names a partition goes to that partition."""

    def __init__(self, records: list[Record], *, bootstrap: str, topic: str, lag_ms: int) -> None:
        super().__init__(daemon=True)
        self.records = sorted(records, key=lambda r: r.arrival_ms)
        self.bootstrap, self.topic, self.lag_ms = bootstrap, topic, lag_ms
        self.release = threading.Event()
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "linger.ms": 20})
        try:
            for record in self.records:
                while not self.release.is_set() and record.arrival_ms + self.lag_ms > now_ms():
                    producer.poll(0.05)
                    self.release.wait(0.05)
                extra = {"partition": record.expect["partition"]} if "partition" in record.expect else {}
                producer.produce(self.topic, key=record.key.encode(), value=record.value.encode(), **extra)
                producer.poll(0)
                self.sent += 1
            if producer.flush(60) != 0:
                raise RuntimeError("order events not delivered")
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error
