"""The serving side's pure logic: parsing speed-topic rows, the in-process store, the speed sinks' options."""

from __future__ import annotations

import json

import pytest

from jobs import orders_speed
from lakehouse import config
from lakehouse.serve import rows as R
from lakehouse.serve.settings import load as load_serve
from lakehouse.serve.store import MemoryStore
from tests.serve_rows import metric_row


def _metric(minute: int, region: str = "EU-WEST", category: str = "books", orders: int = 3, revenue: float = 30.0):
    return metric_row(
        start=f"2024-03-01T10:{minute:02d}:00",
        end=f"2024-03-01T10:{minute + 1:02d}:00",
        region=region,
        category=category,
        orders=orders,
        revenue=revenue,
        min_amount=5.0,
        max_amount=15.0,
    )


def _anomaly(minute: int, rule: str = "revenue_spike", region: str = "APAC"):
    return {
        "rule_id": rule,
        "rule_kind": "static",
        "level": "1m",
        "window_start": f"2024-03-01T10:{minute:02d}:00",
        "window_end": f"2024-03-01T10:{minute + 1:02d}:00",
        "region": region,
        "category": "toys",
        "metric": "revenue_eur",
        "observed": 900.0,
        "threshold": 500.0,
    }


def test_a_flink_json_row_gets_utc_iso_timestamps_and_its_window_in_epoch_ms():
    row = R.parse(json.dumps(_metric(5)).encode(), R.METRIC_COLUMNS)
    assert row["window_start"] == "2024-03-01T10:05:00.000Z"
    assert row["window_end"] == "2024-03-01T10:06:00.000Z"
    assert row["window_ms"] == 1709287500000
    assert row["order_count"] == 3 and row["revenue_eur"] == 30.0
    # Flink may print fractions of a second, and a zone-aware writer an offset: the same instant.
    assert (
        R.parse(json.dumps({**_metric(5), "window_start": "2024-03-01T11:05:00.000+01:00"}), R.METRIC_COLUMNS)[
            "window_ms"
        ]
        == row["window_ms"]
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"region": "EU-WEST"}).encode(), "missing window_start"),
        (json.dumps({**_metric(1), "window_start": "yesterday"}).encode(), "not an ISO-8601"),
        (None, "empty message"),
    ],
)
def test_a_bad_message_is_a_bad_row_with_its_reason(payload, reason):
    with pytest.raises(R.BadRow, match=reason):
        R.parse(payload, R.METRIC_COLUMNS)


def _rows(*records, columns=R.METRIC_COLUMNS):
    return [R.normalise(r, columns) for r in records]


def test_the_store_upserts_by_key_so_a_replay_changes_nothing():
    store = MemoryStore()
    first = _rows(_metric(1), _metric(1, region="APAC"), _metric(2))
    assert store.put_metrics(first) == first
    assert store.put_metrics(first) == [], "a replayed window is not an update"
    corrected = _rows(_metric(2, orders=4, revenue=44.0))
    assert store.put_metrics(corrected) == corrected
    assert len(store.windows(0)) == 3
    assert store.newest_window_end() == "2024-03-01T10:03:00.000Z"


def test_latest_is_the_newest_window_per_region_and_category_whatever_the_arrival_order():
    store = MemoryStore()
    store.put_metrics(_rows(_metric(7, revenue=70.0), _metric(3, revenue=30.0), _metric(3, region="APAC")))
    latest = {(r["region"], r["category"]): r["window_start"] for r in store.latest()}
    assert latest == {("EU-WEST", "books"): "2024-03-01T10:07:00.000Z", ("APAC", "books"): "2024-03-01T10:03:00.000Z"}


def test_anomalies_are_one_per_rule_window_region_and_category_and_filtered_by_since():
    store = MemoryStore()
    fired = _rows(_anomaly(1), _anomaly(1, rule="orders_drop"), _anomaly(4), columns=R.ANOMALY_COLUMNS)
    assert store.put_anomalies(fired + fired[:1]) == fired
    assert store.put_anomalies(fired) == []
    since = R.epoch_ms(R.to_utc("2024-03-01T10:02:00Z"))
    assert [a["window_start"] for a in store.anomalies(since, 100)] == ["2024-03-01T10:04:00.000Z"]
    assert len(store.anomalies(0, 2)) == 2, "limit keeps the newest"


def test_windows_older_than_the_ttl_behind_the_newest_are_trimmed():
    store = MemoryStore(ttl_seconds=120)
    store.put_metrics(_rows(_metric(1), _metric(2), _metric(3), _metric(5)))
    assert sorted(r["window_start"][11:16] for r in store.windows(0)) == ["10:03", "10:05"]


def test_speed_sinks_are_kafka_topics_keyed_by_window_region_and_category():
    settings = config.load("local", topic_prefix="t1-", kafka_bootstrap="127.0.0.1:9999")
    options = orders_speed.sink_options(settings, orders_speed.METRICS_1M)
    assert options["topic"] == "t1-gold-order-metrics-1m"
    assert options["key.fields"] == "window_start;region;category"
    assert options["properties.bootstrap.servers"] == "127.0.0.1:9999"
    assert orders_speed.sink_options(settings, orders_speed.ANOMALIES)["key.fields"] == (
        "rule_id;window_start;region;category"
    )
    ddl = orders_speed.sink_ddl(settings, orders_speed.METRICS_1M)
    assert "create temporary table speed_order_metrics_1m" in ddl and "`revenue_eur` DOUBLE" in ddl


def test_serving_topics_is_off_by_default_and_set_from_the_environment(monkeypatch):
    assert config.load("local").serving_topics is False
    monkeypatch.setenv("LAKEHOUSE_SERVING_TOPICS", "true")
    assert config.load("local").serving_topics is True
    monkeypatch.setenv("LAKEHOUSE_SERVING_TOPICS", "maybe")
    with pytest.raises(ValueError, match="boolean"):
        config.load("local")


def test_serve_settings_take_the_infra_ports_and_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("REDIS_PORT", "6579")
    monkeypatch.setenv("SERVE_PORT", "8200")
    monkeypatch.setenv("REDIS_PASSWORD", "s3cret-for-test")
    serve = load_serve()
    assert (serve.redis_port, serve.port, serve.host) == (6579, 8200, "127.0.0.1")
    assert "s3cret" not in repr(serve)
    with pytest.raises(ValueError, match="SERVE_STORE"):
        load_serve(store="disk")


def test_a_clean_environment_keeps_the_infra_ports_and_drops_pyflinks_variables(monkeypatch):
    from lakehouse.pipeline import flink_cluster

    monkeypatch.setenv("FLINK_REST_PORT", "8281")
    monkeypatch.setenv("FLINK_TM_RPC_PORTS", "6330-6349")
    monkeypatch.setenv("FLINK_HOME", "/somewhere/pyflink")
    monkeypatch.setenv("JVM_ARGS", "-Xmx1g")
    env = flink_cluster.clean_environment()
    assert (env["FLINK_REST_PORT"], env["FLINK_TM_RPC_PORTS"]) == ("8281", "6330-6349")
    assert "FLINK_HOME" not in env and "JVM_ARGS" not in env


def test_the_gold_feed_upserts_each_new_delta_version_and_pushes_only_what_changed(tmp_path):
    import pyarrow as pa
    from deltalake import write_deltalake

    from lakehouse.lake import tables
    from lakehouse.serve.gold_feed import GoldFeed

    settings = config.load("embedded", table_root=str(tmp_path))
    uri = f"{tmp_path}/{tables.METRICS_1M.path}"
    schema = tables.METRICS_1M.arrow_schema()

    def append(*records):
        rows = [
            {**r, "window_start": R.to_utc(r["window_start"]), "window_end": R.to_utc(r["window_end"])} for r in records
        ]
        write_deltalake(uri, pa.Table.from_pylist(rows, schema=schema), mode="append")

    store, pushed = MemoryStore(), []
    feed = GoldFeed(settings, store, pushed.append)
    feed.poll()
    assert pushed == [] and feed.caught_up.is_set(), "no table yet: nothing to read, not an error"
    append(_metric(1), _metric(2))
    feed.poll()
    feed.poll()  # same version: not read again
    assert [len(m["rows"]) for m in pushed] == [2]
    append(_metric(3, region="APAC"))
    feed.poll()
    assert [r["window_start"] for r in pushed[-1]["rows"]] == ["2024-03-01T10:03:00.000Z"], "only the new row"
    assert {(r["region"], r["window_start"]) for r in store.latest()} == {
        ("EU-WEST", "2024-03-01T10:02:00.000Z"),
        ("APAC", "2024-03-01T10:03:00.000Z"),
    }
