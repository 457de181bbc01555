"""The consumer of the speed topics: Kafka -> store -> WebSocket hub, in one background thread.

It keeps no offsets of its own (no consumer group commits): on every start it re-reads each topic
from ``rebuild_hours`` ago (Kafka's offsets-for-times) and upserts, which is the restart rebuild.
Upserts by key make that, and the job's at-least-once delivery, harmless.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from jobs import orders_speed
from lakehouse.config import Settings
from lakehouse.serve import rows as R
from lakehouse.serve.feed import Feed
from lakehouse.serve.store import Store

log = logging.getLogger("lakehouse.serve")
# librdkafka logs every failed connection attempt (several a second while Kafka is down); the
# retry loop below reports the state once per attempt instead.
_KAFKA_LOG = logging.getLogger("lakehouse.serve.kafka")
_KAFKA_LOG.setLevel(logging.CRITICAL)


class SpeedConsumer(Feed):
    """Kafka speed topics -> store; ``caught_up`` is set once every partition reached its end after a start."""

    def __init__(
        self, settings: Settings, store: Store, publish: Callable[[dict], None], *, rebuild_hours: float = 24.0
    ) -> None:
        super().__init__(settings, store, publish, thread_name="speed-consumer")
        self._rebuild_ms = int(rebuild_hours * 3600 * 1000)
        self.metrics_topic = orders_speed.METRICS_1M.topic(settings)
        self.anomalies_topic = orders_speed.ANOMALIES.topic(settings)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._consume()
            except Exception as error:  # noqa: BLE001 - keep serving; retry the connection
                self.last_error = f"{type(error).__name__}: {error}"
                log.warning("speed consumer: %s; retrying in 2 s", self.last_error)
                self._stop.wait(2)

    def _consumer(self):
        from confluent_kafka import Consumer, TopicPartition

        orders_speed.ensure_topics(self._settings, logger=_KAFKA_LOG)
        consumer = Consumer(
            {
                "bootstrap.servers": self._settings.kafka_bootstrap,
                "group.id": f"lakehouse-serve-{uuid.uuid4().hex[:8]}",  # never committed: see the module doc
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 50,
                "enable.partition.eof": True,
            },
            logger=_KAFKA_LOG,
        )
        since = int(time.time() * 1000) - self._rebuild_ms
        wanted = []
        for topic in (self.metrics_topic, self.anomalies_topic):
            metadata = consumer.list_topics(topic, timeout=15).topics[topic]
            wanted += [TopicPartition(topic, p, since) for p in metadata.partitions]
        starts = consumer.offsets_for_times(wanted, timeout=15)
        # A partition with nothing newer than `since` answers -1 (its end): start there.
        consumer.assign(starts)
        return consumer, {(tp.topic, tp.partition) for tp in starts}

    def _consume(self) -> None:
        from confluent_kafka import KafkaError

        consumer, pending_eof = self._consumer()
        try:
            while not self._stop.is_set():
                messages = consumer.consume(num_messages=1000, timeout=0.2)
                metrics, anomalies = [], []
                for message in messages:
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            pending_eof.discard((message.topic(), message.partition()))
                            continue
                        raise RuntimeError(str(error))
                    self.consumed += 1
                    columns = R.METRIC_COLUMNS if message.topic() == self.metrics_topic else R.ANOMALY_COLUMNS
                    try:
                        row = R.parse(message.value(), columns)
                    except R.BadRow as bad:
                        self.bad_messages += 1
                        log.warning("skipping a bad message at %s/%s: %s", message.topic(), message.offset(), bad)
                        continue
                    (metrics if message.topic() == self.metrics_topic else anomalies).append(row)
                # One message per batch and kind: a rebuild's thousands of rows reach a page as a
                # few large messages, not thousands of small ones.
                changed = self._store.put_metrics(metrics)
                if changed:
                    self._publish({"type": "metrics", "rows": changed})
                new = self._store.put_anomalies(anomalies)
                if new:
                    self._publish({"type": "anomalies", "rows": new})
                if not pending_eof and not self.caught_up.is_set():
                    self.caught_up.set()
                    log.info("speed consumer caught up (%d messages)", self.consumed)
        finally:
            consumer.close()
