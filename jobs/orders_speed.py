"""The speed path: the job's gold 1-minute metrics and anomalies, also written to Kafka topics.

Enabled by ``Settings.serving_topics`` (``LAKEHOUSE_SERVING_TOPICS=true``; off by default). The rows
are the same Table objects that feed the Delta sinks (jobs/orders_metrics.py and
jobs/orders_anomalies.py): one plan node, two sinks, no second code path. Each row goes out as soon
as its window fires, keyed by window, region and category (and rule for anomalies), so a consumer
(``lakehouse serve``) upserts by key.

Delivery is at least once: Flink's Kafka sink sends rows when they are produced and flushes at each
checkpoint; a restore may send a window again, with the same key and the same values, which an
upsert by key absorbs. Exactly-once here would hold every row back until its checkpoint completes
(transactions, read_committed), which is the latency this path exists to avoid.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse import sql
from lakehouse.config import Settings
from lakehouse.lake import tables


@dataclass(frozen=True)
class SpeedTopic:
    spec: tables.TableSpec
    suffix: str  # topic name after the settings' topic prefix
    key: tuple[str, ...]

    @property
    def sink_name(self) -> str:
        return "speed_" + self.spec.short_name

    def topic(self, settings: Settings) -> str:
        return f"{settings.topic_prefix}{self.suffix}"


METRICS_1M = SpeedTopic(tables.METRICS_1M, "gold-order-metrics-1m", ("window_start", "region", "category"))
ANOMALIES = SpeedTopic(tables.ANOMALIES, "gold-anomalies", ("rule_id", "window_start", "region", "category"))
TOPICS = (METRICS_1M, ANOMALIES)


def sink_options(settings: Settings, topic: SpeedTopic) -> dict[str, str]:
    """Kafka sink options: JSON key and value, ISO-8601 timestamps (UTC wall time, no zone)."""
    return {
        "connector": "kafka",
        "topic": topic.topic(settings),
        "properties.bootstrap.servers": settings.kafka_bootstrap,
        "key.format": "json",
        "key.json.timestamp-format.standard": "ISO-8601",
        "key.fields": ";".join(topic.key),
        "value.format": "json",
        "value.json.timestamp-format.standard": "ISO-8601",
        "value.fields-include": "ALL",
        "sink.delivery-guarantee": "at-least-once",
    }


def sink_ddl(settings: Settings, topic: SpeedTopic) -> str:
    return (
        f"create temporary table {topic.sink_name} (\n    {topic.spec.flink_ddl_columns()}\n) with (\n"
        f"{sql.with_options(sink_options(settings, topic))}\n)"
    )


def add_to(t_env, statements, outputs: dict[str, object], settings: Settings) -> None:
    """Register the Kafka sinks and add one insert per speed topic, from the job's own outputs."""
    for topic in TOPICS:
        t_env.execute_sql(sink_ddl(settings, topic))
        statements.add_insert(topic.sink_name, topic.spec.select_columns(outputs[topic.spec.name]))


def ensure_topics(settings: Settings, *, partitions: int = 1, logger=None) -> list[str]:
    """Create the speed topics if absent (one partition: a few hundred rows a minute); return new ones."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap}, **({"logger": logger} if logger else {}))
    existing = set(admin.list_topics(timeout=15).topics)
    missing = [
        NewTopic(t.topic(settings), num_partitions=partitions, replication_factor=1)
        for t in TOPICS
        if t.topic(settings) not in existing
    ]
    for _name, future in admin.create_topics(missing).items() if missing else []:
        future.result(timeout=30)
    return [t.topic for t in missing]
