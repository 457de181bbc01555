"""Publishes the generator's streams to Kafka, in arrival order, at a chosen rate or flat out.

Order events are keyed by order_id (one order's events stay in one partition, in order);
dimension changes by their primary key. The producer is idempotent, so a retried send never
writes a message twice.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

from lakehouse.sources.generator import Dataset, Record

PARTITIONS = {"order-events": 3, "customers": 1, "products": 1}


def topic_name(prefix: str, stream: str) -> str:
    return f"{prefix}{stream}"


def ensure_topics(bootstrap: str, prefix: str = "", *, partitions: dict[str, int] = PARTITIONS) -> list[str]:
    """Create the three topics if they do not exist; return the names created now."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=15).topics)
    wanted = [NewTopic(topic_name(prefix, s), num_partitions=n, replication_factor=1) for s, n in partitions.items()]
    missing = [t for t in wanted if t.topic not in existing]
    for _topic, future in admin.create_topics(missing).items() if missing else []:
        future.result(timeout=30)
    return [t.topic for t in missing]


def _bound(callback: Callable, record: Record) -> Callable:
    return lambda err, msg: callback(err, msg, record)


def in_arrival_order(dataset: Dataset) -> list[Record]:
    """All three streams merged by arrival time (each stream is already in arrival order)."""
    return list(heapq.merge(dataset.customers, dataset.products, dataset.orders, key=lambda r: r.arrival_ms))


def produce(
    dataset: Dataset,
    *,
    bootstrap: str,
    prefix: str = "",
    events_per_second: float | None = None,
    log: Callable[[str], None] = print,
    progress_seconds: float = 2.0,
    on_delivered: Callable[[Record, str], None] | None = None,
) -> int:
    """Send every record; return how many were acknowledged. A failed delivery is an error.

    A record's value may be text, bytes (sent as they are) or None (a record without a value).
    ``on_delivered`` is called with each acknowledged record and its position in Kafka,
    ``<topic>/<partition>/<offset>`` (the quarantine key of a record without a payload)."""
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 20,
            "batch.num.messages": 10000,
            "compression.type": "lz4",
        }
    )
    failures: list[str] = []
    delivered = 0

    def on_delivery(err, msg, record: Record | None = None) -> None:
        nonlocal delivered
        if err is not None:
            failures.append(str(err))
            return
        delivered += 1
        if on_delivered is not None and record is not None:
            on_delivered(record, f"{msg.topic()}/{msg.partition()}/{msg.offset()}")

    records = in_arrival_order(dataset)
    started = last_report = time.monotonic()
    for sent, record in enumerate(records, start=1):
        while True:
            try:
                producer.produce(
                    topic_name(prefix, record.stream),
                    key=record.key.encode(),
                    value=record.value.encode() if isinstance(record.value, str) else record.value,
                    on_delivery=on_delivery if on_delivered is None else _bound(on_delivery, record),
                )
                break
            except BufferError:  # the local queue is full: let the broker catch up
                producer.poll(0.1)
        producer.poll(0)
        if events_per_second:
            ahead = sent / events_per_second - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        now = time.monotonic()
        if now - last_report >= progress_seconds:
            log(f"produced {sent:,}/{len(records):,} ({sent / (now - started):,.0f} events/s)")
            last_report = now
    producer.flush(60)
    if failures:
        raise RuntimeError(f"{len(failures)} messages were not delivered, e.g. {failures[0]}")
    elapsed = time.monotonic() - started
    log(f"produced {delivered:,} events in {elapsed:.1f}s ({delivered / max(elapsed, 1e-9):,.0f} events/s)")
    return delivered
