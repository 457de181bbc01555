"""`lakehouse serve` against real parts: Kafka of the local stack, Redis, a gold Delta table with two
versions. The speed topics get the rows the job's Kafka sinks write (Flink's JSON: zone-less ISO
timestamps); every answer is checked against those input rows, computed here independently."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from jobs import orders_speed
from lakehouse import config
from lakehouse.lake import tables
from tests.integration.serve_support import (
    ARTIFACTS,
    free_port,
    get,
    redis_client,
    serve_process,
    wait_for,
)
from tests.serve_rows import metric_row

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
REGIONS = ("APAC", "EU-WEST", "NA-EAST")
CATEGORIES = ("books", "toys")


def _metric(minute: int, region: str, category: str) -> dict:
    orders = 1 + (minute * 7 + len(region) * 3 + len(category)) % 11
    revenue = round(orders * (20.5 + minute), 2)
    return metric_row(
        start=T0 + timedelta(minutes=minute),
        end=T0 + timedelta(minutes=minute + 1),
        region=region,
        category=category,
        orders=orders,
        revenue=revenue,
        min_amount=1.0,
        max_amount=revenue,
    )


METRICS = [_metric(m, r, c) for m in range(10) for r in REGIONS for c in CATEGORIES]
ANOMALIES = [
    {
        "rule_id": rule,
        "rule_kind": "static",
        "level": "1m",
        "window_start": T0 + timedelta(minutes=minute),
        "window_end": T0 + timedelta(minutes=minute + 1),
        "region": "EU-WEST",
        "category": "toys",
        "metric": "revenue_eur",
        "observed": 999.0,
        "threshold": 500.0,
    }
    for rule, minute in (("revenue_spike_1m", 2), ("revenue_spike_1m", 8), ("large_order_1m", 8))
]


def _flink_json(row: dict) -> bytes:
    """A row as Flink's JSON format writes it with ISO-8601 timestamps (no zone)."""
    return json.dumps(
        {k: v.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(v, datetime) else v for k, v in row.items()}
    ).encode()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _produce(settings, topic, rows, key_fields) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for row in rows:
        key = json.dumps(
            {k: row[k].strftime("%Y-%m-%dT%H:%M:%S") if k == "window_start" else row[k] for k in key_fields}
        )
        producer.produce(topic.topic(settings), key=key.encode(), value=_flink_json(row))
    assert producer.flush(30) == 0


@pytest.fixture(scope="module")
def served(local_stack, redis_server, tmp_path_factory):  # noqa: F811
    run = uuid.uuid4().hex[:8]
    table_root = tmp_path_factory.mktemp("serve-tables")
    settings = config.load("local", topic_prefix=f"sv{run}-", table_root=str(table_root))
    gold = f"{table_root}/{tables.METRICS_1M.path}"
    schema = tables.METRICS_1M.arrow_schema()
    write_deltalake(gold, pa.Table.from_pylist(METRICS[:30], schema=schema), mode="append")  # version 0: minutes 0-4
    write_deltalake(gold, pa.Table.from_pylist(METRICS[30:], schema=schema), mode="append")  # version 1: 5-9
    orders_speed.ensure_topics(settings)
    _produce(settings, orders_speed.METRICS_1M, METRICS, orders_speed.METRICS_1M.key)
    _produce(settings, orders_speed.ANOMALIES, ANOMALIES, orders_speed.ANOMALIES.key)
    env = {
        "LAKEHOUSE_PROFILE": "local",
        "LAKEHOUSE_TOPIC_PREFIX": settings.topic_prefix,
        "LAKEHOUSE_TABLE_ROOT": str(table_root),
        "SERVE_KEY_PREFIX": f"it{run}:",
    }
    with serve_process(env, port=free_port(), log_path=ARTIFACTS / f"serve-api-{run}.log") as base:
        wait_for(lambda: get(base + "/api/health")[1]["caught_up"], timeout=60, what="the consumer to catch up")
        yield {"base": base, "settings": settings, "env": env, "run": run, "table_root": str(table_root)}


def test_health_names_the_store_and_the_topics(served):
    status, body = get(served["base"] + "/api/health")
    assert status == 200
    assert body["store"] == "redis" and body["store_ok"] is True
    assert body["topics"] == [f"sv{served['run']}-gold-order-metrics-1m", f"sv{served['run']}-gold-anomalies"]
    assert body["consumed"] == len(METRICS) + len(ANOMALIES) and body["bad_messages"] == 0
    assert body["newest_window_end"] == _iso(T0 + timedelta(minutes=10))


def test_latest_is_the_newest_window_of_every_region_and_category(served):
    status, body = get(served["base"] + "/api/metrics/latest")
    assert status == 200
    expected = sorted(
        (r for r in METRICS if r["window_start"] == T0 + timedelta(minutes=9)),
        key=lambda r: (r["region"], r["category"]),
    )
    assert [
        (m["region"], m["category"], m["window_start"], m["order_count"], m["revenue_eur"]) for m in body["metrics"]
    ] == [(r["region"], r["category"], _iso(r["window_start"]), r["order_count"], r["revenue_eur"]) for r in expected]
    status, one = get(served["base"] + "/api/metrics/latest?region=EU-WEST&category=toys")
    assert status == 200 and len(one["metrics"]) == 1
    assert one["metrics"][0]["revenue_eur"] == _metric(9, "EU-WEST", "toys")["revenue_eur"]


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("region=MARS", 404, "unknown region 'MARS'; known: APAC, EU-WEST, NA-EAST"),
        ("category=cheese", 404, "unknown category 'cheese'"),
        ("region=", 422, "at least 1 character"),
    ],
)
def test_latest_rejects_an_unknown_or_empty_region_with_a_clear_message(served, query, status, message):
    body = _refused(served, "/api/metrics/latest?" + query, status, message)
    assert "Traceback" not in body


def test_windows_are_the_last_n_minutes_of_data(served):
    status, body = get(served["base"] + "/api/metrics/windows?minutes=5")
    assert status == 200
    got = {(m["window_start"], m["region"], m["category"]): m["order_count"] for m in body["metrics"]}
    assert got == {(_iso(r["window_start"]), r["region"], r["category"]): r["order_count"] for r in METRICS[30:]}
    for bad in ("minutes=0", "minutes=100000", "minutes=ten"):
        assert get(served["base"] + "/api/metrics/windows?" + bad)[0] == 422


def test_anomalies_since_a_time(served):
    status, body = get(served["base"] + "/api/anomalies?since=2026-01-01T09:05:00Z")
    assert status == 200
    assert sorted((a["rule_id"], a["window_start"]) for a in body["anomalies"]) == [
        ("large_order_1m", "2026-01-01T09:08:00.000Z"),
        ("revenue_spike_1m", "2026-01-01T09:08:00.000Z"),
    ]
    everything = get(served["base"] + "/api/anomalies?since=2026-01-01T00:00:00Z")[1]
    assert len(everything["anomalies"]) == len(ANOMALIES), "one row per rule, window, region and category"
    status, body = get(served["base"] + "/api/anomalies?since=last-tuesday")
    assert status == 422 and "since" in json.dumps(body)


def test_history_reads_gold_at_a_pinned_version_and_says_which(served):
    base = served["base"] + "/api/history?start=2026-01-01T09:00:00Z&end=2026-01-01T10:00:00Z"
    status, newest = get(base + "&region=APAC")
    assert status == 200 and newest["table_version"] == 1 and newest["newest_version"] == 1
    assert [(r["window_start"], r["category"], r["revenue_eur"]) for r in newest["rows"]] == [
        (_iso(r["window_start"]), r["category"], r["revenue_eur"]) for r in METRICS if r["region"] == "APAC"
    ]
    status, pinned = get(base + "&version=0")
    assert status == 200 and pinned["table_version"] == 0
    assert len(pinned["rows"]) == 30 and max(r["window_start"] for r in pinned["rows"]) == "2026-01-01T09:04:00.000Z"
    status, narrow = get(served["base"] + "/api/history?start=2026-01-01T09:03:00Z&end=2026-01-01T09:04:00Z")
    assert status == 200 and {r["window_start"] for r in narrow["rows"]} == {"2026-01-01T09:03:00.000Z"}


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("start=2026-01-01T10:00:00Z&end=2026-01-01T09:00:00Z", 400, "end must be after start"),
        ("start=2026-01-01T00:00:00Z&end=2026-02-01T00:00:00Z", 400, "at most 7 days"),
        ("start=2026-01-01T09:00:00Z&end=2026-01-01T10:00:00Z&version=7", 404, "has no version 7; the newest is 1"),
        ("start=2026-01-01T09:00:00Z&end=2026-01-01T10:00:00Z&version=-1", 422, "greater than or equal to 0"),
        ("end=2026-01-01T10:00:00Z", 422, "start"),
        ("start=noon&end=2026-01-01T10:00:00Z", 422, "start"),
    ],
)
def test_history_rejects_bad_parameters(served, query, status, message):
    _refused(served, "/api/history?" + query, status, message)


def _refused(served, path: str, status: int, message: str) -> str:
    """Assert that ``path`` answers ``status`` with ``message`` in its body; the body as JSON text."""
    code, body = get(served["base"] + path)
    assert code == status
    text = json.dumps(body)
    assert message in text
    return text


def test_openapi_docs_and_the_dashboard_are_served(served):
    status, spec = get(served["base"] + "/openapi.json")
    assert status == 200
    assert {"/api/health", "/api/metrics/latest", "/api/metrics/windows", "/api/anomalies", "/api/history"} <= set(
        spec["paths"]
    )
    assert get(served["base"] + "/docs")[0] == 200
    status, page = get(served["base"] + "/")
    assert status == 200 and "/static/vendor/chart-4.5.1.umd.min.js" in page
    status, library = get(served["base"] + "/static/vendor/chart-4.5.1.umd.min.js")
    assert status == 200 and "Chart.js v4.5.1" in library


def test_hot_keys_carry_the_24_hour_ttl(served, redis_server):  # noqa: F811
    client = redis_client(redis_server)
    keys = client.keys(f"it{served['run']}:*")
    assert len(keys) == 10 + 4, "ten window hashes, windows, latest, meta and anomalies"
    for key in keys:
        assert 86_000 < client.ttl(key) <= 86_400, key


def test_websocket_sends_a_snapshot_then_each_new_metric_once(served):
    from websockets.sync.client import connect

    with connect(served["base"].replace("http", "ws") + "/ws", open_timeout=10) as ws:
        snapshot = json.loads(ws.recv(timeout=10))
        assert snapshot["type"] == "snapshot" and len(snapshot["metrics"]) == len(METRICS)
        assert len(snapshot["anomalies"]) == len(ANOMALIES)
        replay, fresh = _metric(9, "APAC", "books"), _metric(10, "APAC", "books")
        sent = time.monotonic()
        _produce(served["settings"], orders_speed.METRICS_1M, [replay, fresh], orders_speed.METRICS_1M.key)
        update = json.loads(ws.recv(timeout=10))
        elapsed = time.monotonic() - sent
        assert update["type"] == "metrics"
        assert [(r["window_start"], r["region"], r["order_count"]) for r in update["rows"]] == [
            (_iso(fresh["window_start"]), "APAC", fresh["order_count"])
        ], "the replayed row is not pushed again"
        assert elapsed < 5, f"pushed after {elapsed:.1f} s"


def test_a_restarted_server_rebuilds_the_same_answers_from_the_topics(served):
    """A second server with an empty key space (as after losing Redis) answers what the first does."""
    before = {
        path: get(served["base"] + path)[1]
        for path in ("/api/metrics/latest", "/api/anomalies?since=2026-01-01T00:00:00Z")
    }
    env = {**served["env"], "SERVE_KEY_PREFIX": f"it{served['run']}-rebuilt:"}
    with serve_process(env, port=free_port(), log_path=ARTIFACTS / f"serve-api-{served['run']}-restart.log") as base:
        wait_for(lambda: get(base + "/api/health")[1]["caught_up"], timeout=60, what="the rebuild")
        after = {path: get(base + path)[1] for path in before}
    assert after == before


def test_the_gold_feed_serves_without_kafka_or_redis_and_pushes_each_new_version(served):
    """`--source gold --store memory` (the embedded default's live view): gold's answers, then live commits."""
    from websockets.sync.client import connect

    env = {**served["env"], "SERVE_SOURCE": "gold", "SERVE_STORE": "memory"}
    with serve_process(env, port=free_port(), log_path=ARTIFACTS / f"serve-api-{served['run']}-gold.log") as base:
        health = wait_for(lambda: (h := get(base + "/api/health")[1])["caught_up"] and h, timeout=30, what="gold")
        assert health["tables"] == ["gold.order_metrics_1m", "gold.anomalies"] and health["topics"] == []
        latest = get(base + "/api/metrics/latest")[1]["metrics"]
        assert {(m["region"], m["category"]): m["revenue_eur"] for m in latest} == {
            (r["region"], r["category"]): r["revenue_eur"]
            for r in METRICS
            if r["window_start"] == T0 + timedelta(minutes=9)
        }
        with connect(base.replace("http", "ws") + "/ws", open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
            new = _metric(12, "NA-EAST", "books")
            write_deltalake(
                f"{served['table_root']}/{tables.METRICS_1M.path}",
                pa.Table.from_pylist([new], schema=tables.METRICS_1M.arrow_schema()),
                mode="append",
            )
            update = json.loads(ws.recv(timeout=15))
        assert update["type"] == "metrics"
        assert [(r["window_start"], r["region"], r["revenue_eur"]) for r in update["rows"]] == [
            (_iso(new["window_start"]), "NA-EAST", new["revenue_eur"])
        ]


def test_a_client_that_stops_reading_is_dropped_and_never_holds_back_the_others(served):
    """A stalled page (it reads nothing: its socket fills) is disconnected; a live one gets everything."""
    from websockets.sync.client import connect

    env = {**served["env"], "SERVE_STORE": "memory", "SERVE_CLIENT_QUEUE": "4", "SERVE_REBUILD_HOURS": "0.001"}
    with serve_process(env, port=free_port(), log_path=ARTIFACTS / f"serve-api-{served['run']}-slow.log") as base:
        port = int(base.rsplit(":", 1)[1])
        # A raw WebSocket handshake, then nothing is ever read (a client library would keep reading).
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        key = base64.b64encode(os.urandom(16)).decode()
        stalled.sendall(
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert stalled.recv(4096).startswith(b"HTTP/1.1 101")
        # The live page reads whatever arrives (no cap on the frames its library buffers): with the
        # library's default of 16, the server's pushes could back up behind this thread while it
        # produced below, and the 4-message queue dropped the live client too.
        with connect(base.replace("http", "ws") + "/ws", open_timeout=10, max_queue=None) as live:
            live.recv(timeout=10)  # the snapshot
            batches = 40  # about 13 MB of pushes: more than the stalled socket's buffers hold
            rows = [_metric(100 + i, r, f"c{c:03d}") for i in range(batches) for r in REGIONS for c in range(330)]
            _produce(served["settings"], orders_speed.METRICS_1M, rows, orders_speed.METRICS_1M.key)
            seen = 0
            while seen < len(rows):
                message = json.loads(live.recv(timeout=20))
                seen += sum(1 for row in message["rows"] if row["category"].startswith("c"))  # this test's rows
            assert seen == len(rows), "the live client got every row"
            health = wait_for(
                lambda: (h := get(base + "/api/health")[1])["dropped_clients"] and h, timeout=20, what="a drop"
            )
            assert health["dropped_clients"] == 1 and health["clients"] == 1
        # What the stalled socket finally reads ends with a close frame: code 1013, "too slow: reconnect".
        stalled.settimeout(30)
        received = b""
        while b"\x03\xf5too slow" not in received[-4096:]:
            chunk = stalled.recv(1 << 20)
            assert chunk, "connection ended without the close frame"
            received += chunk
        stalled.close()
