"""The jobs' transforms on a dozen in-memory rows in a batch TableEnvironment, against rows computed
by hand.

Batch mode runs the window metrics, the static anomaly rules and the enrichment's staging as the
streaming job does (a window's time column is a plain timestamp here). The adaptive rule orders a
Table API over-window by a time attribute, which batch mode does not keep: it runs in streaming mode
on a dozen rows from a bounded CSV file with a watermark. The enrichment's joins are left to
test_embedded_pipeline, which compares every table with the reference model: Flink's batch planner
has no event-time temporal join (FOR SYSTEM_TIME AS OF on a versioned view: FLINK-39420), and a
streaming one needs both sides with watermarks, which is what the embedded run reads.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from lakehouse.lake import tables
from lakehouse.rules import AdaptiveRule, Rules, StaticRule

pytestmark = pytest.mark.integration

# event time, customer, region, category, amount in EUR
ORDERS = [
    ("10:00:10", "c1", "EU", "books", 10.0),
    ("10:00:20", "c1", "EU", "books", 30.0),
    ("10:00:50", "c2", "EU", "books", 20.0),
    ("10:00:30", "c3", "US", "toys", 5.0),
    ("10:01:05", "c1", "EU", "books", 40.0),
    ("10:01:10", "c3", "US", "toys", 15.0),
    ("10:01:59", "c4", "US", "toys", 25.0),
    ("10:04:00", "c2", "EU", "books", 60.0),
    ("10:05:00", "c1", "EU", "books", 100.0),
    ("10:07:30", "c5", "EU", "books", 50.0),
    ("10:59:59.999", "c6", "US", "toys", 35.0),
    ("11:00:00", "c1", "EU", "books", 70.0),
]

# window start, window end, region, category, order_count, revenue_eur, avg_order_value_eur,
# distinct_customers, min_amount_eur, max_amount_eur
METRICS = {
    "gold.order_metrics_1m": [
        ("10:00", "10:01", "EU", "books", 3, 60.0, 20.0, 2, 10.0, 30.0),
        ("10:00", "10:01", "US", "toys", 1, 5.0, 5.0, 1, 5.0, 5.0),
        ("10:01", "10:02", "EU", "books", 1, 40.0, 40.0, 1, 40.0, 40.0),
        ("10:01", "10:02", "US", "toys", 2, 40.0, 20.0, 2, 15.0, 25.0),
        ("10:04", "10:05", "EU", "books", 1, 60.0, 60.0, 1, 60.0, 60.0),
        ("10:05", "10:06", "EU", "books", 1, 100.0, 100.0, 1, 100.0, 100.0),
        ("10:07", "10:08", "EU", "books", 1, 50.0, 50.0, 1, 50.0, 50.0),
        ("10:59", "11:00", "US", "toys", 1, 35.0, 35.0, 1, 35.0, 35.0),
        ("11:00", "11:01", "EU", "books", 1, 70.0, 70.0, 1, 70.0, 70.0),
    ],
    "gold.order_metrics_5m": [
        ("10:00", "10:05", "EU", "books", 5, 160.0, 32.0, 2, 10.0, 60.0),
        ("10:00", "10:05", "US", "toys", 3, 45.0, 15.0, 2, 5.0, 25.0),
        ("10:05", "10:10", "EU", "books", 2, 150.0, 75.0, 2, 50.0, 100.0),
        ("10:55", "11:00", "US", "toys", 1, 35.0, 35.0, 1, 35.0, 35.0),
        ("11:00", "11:05", "EU", "books", 1, 70.0, 70.0, 1, 70.0, 70.0),
    ],
    "gold.order_metrics_1h": [
        ("10:00", "11:00", "EU", "books", 7, 310.0, 310.0 / 7, 3, 10.0, 100.0),
        ("10:00", "11:00", "US", "toys", 4, 80.0, 20.0, 3, 5.0, 35.0),
        ("11:00", "12:00", "EU", "books", 1, 70.0, 70.0, 1, 70.0, 70.0),
    ],
}

RULES = Rules(
    static=(
        StaticRule(id="large_order_1m", level="1m", metric="max_amount_eur", op=">", threshold=50.0),
        StaticRule(id="quiet_5m", level="5m", metric="order_count", op="<", threshold=2.0),
    ),
    adaptive=(),
)
# rule id, kind, level, window start, window end, region, category, metric, observed, threshold
ANOMALIES = [
    ("large_order_1m", "static", "1m", "10:04", "10:05", "EU", "books", "max_amount_eur", 60.0, 50.0),
    ("large_order_1m", "static", "1m", "10:05", "10:06", "EU", "books", "max_amount_eur", 100.0, 50.0),
    ("large_order_1m", "static", "1m", "11:00", "11:01", "EU", "books", "max_amount_eur", 70.0, 50.0),
    ("quiet_5m", "static", "5m", "10:55", "11:00", "US", "toys", "order_count", 1.0, 2.0),
    ("quiet_5m", "static", "5m", "11:00", "11:05", "EU", "books", "order_count", 1.0, 2.0),
]


def _time(clock: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-30T{clock if clock.count(':') == 2 else clock + ':00'}")


def _orders(t_env):
    from pyflink.table import DataTypes

    schema = DataTypes.ROW(
        [
            DataTypes.FIELD("event_time", DataTypes.TIMESTAMP(3)),
            DataTypes.FIELD("customer_id", DataTypes.STRING()),
            DataTypes.FIELD("region", DataTypes.STRING()),
            DataTypes.FIELD("category", DataTypes.STRING()),
            DataTypes.FIELD("amount_eur", DataTypes.DOUBLE()),
        ]
    )
    return t_env.from_elements([(_time(t), *rest) for t, *rest in ORDERS], schema)


def _rows(table) -> list[tuple]:
    with table.execute().collect() as results:
        return sorted(tuple(row) for row in results)


def _expected(rows) -> list[tuple]:
    return sorted(tuple(_time(v) if isinstance(v, str) and v[:2].isdigit() else v for v in row) for row in rows)


def _approx(rows: list[tuple]) -> list[tuple]:
    return [tuple(pytest.approx(v) if isinstance(v, float) else v for v in row) for row in rows]


@pytest.fixture(scope="module")
def metrics(batch_env):
    from jobs import orders_metrics

    return orders_metrics.transform(batch_env, _orders(batch_env))


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metrics_per_window_region_and_category(metrics, name):
    table = metrics[name]
    assert list(table.get_resolved_schema().get_column_names()) == tables.BY_NAME[name].column_names()
    assert _rows(table) == _approx(_expected(METRICS[name]))


def test_anomalies_fire_once_per_rule_and_window(metrics):
    from jobs import orders_anomalies, orders_metrics

    windows = {level: metrics[stream] for level, stream in orders_metrics.WINDOWS.items()}
    table = orders_anomalies.transform(windows, RULES)[tables.ANOMALIES.name]
    assert list(table.get_resolved_schema().get_column_names()) == tables.ANOMALIES.column_names()
    assert _rows(table) == _approx(_expected(ANOMALIES))


# 1-minute windows (start, region, category, revenue_eur) for the adaptive rule below.
REVENUE_1M = [
    ("10:00", "EU", "books", 60.0),
    ("10:01", "EU", "books", 40.0),
    ("10:04", "EU", "books", 60.0),
    ("10:05", "EU", "books", 100.0),
    ("10:07", "EU", "books", 50.0),
    ("11:00", "EU", "books", 70.0),
    ("10:00", "US", "toys", 5.0),
    ("10:01", "US", "toys", 40.0),
    ("10:59", "US", "toys", 35.0),
]
REVENUE_JUMP = AdaptiveRule(id="revenue_jump_1m", level="1m", metric="revenue_eur", k=1.0, trailing=3, min_history=2)
# EU books at 10:05: the three windows before took 60, 40 and 60, mean 160/3 and population variance
# 800/9, and 100 is above mean + 1 sigma. 10:04 (60) equals its limit (mean 50 + sigma 10) and US toys
# at 10:59 (35) stays below its (22.5 + 17.5); 10:00 and 10:01 have fewer than two windows before them.
ADAPTIVE = [
    (
        "revenue_jump_1m",
        "adaptive",
        "1m",
        "10:05",
        "10:06",
        "EU",
        "books",
        "revenue_eur",
        100.0,
        160 / 3 + math.sqrt(800 / 9),
    )
]


def test_the_adaptive_rule_compares_each_window_with_the_ones_before(stream_env, tmp_path):
    from jobs import orders_anomalies

    lines = []
    for start, region, category, revenue in REVENUE_1M:
        begin = _time(start)
        end, last = begin + timedelta(minutes=1), begin + timedelta(seconds=59, milliseconds=999)
        lines.append(f"{begin},{end},{last},{region},{category},{revenue}")
    (tmp_path / "windows.csv").write_text("\n".join(lines) + "\n")
    stream_env.execute_sql(
        "create temporary table windows_1m (window_start timestamp(3), window_end timestamp(3), "
        "window_time timestamp(3), region string, category string, revenue_eur double, "
        "watermark for window_time as window_time) "
        f"with ('connector' = 'filesystem', 'path' = '{tmp_path}', 'format' = 'csv')"
    )
    rules = Rules(static=(), adaptive=(REVENUE_JUMP,))
    table = orders_anomalies.transform({"1m": stream_env.from_path("windows_1m")}, rules)[tables.ANOMALIES.name]
    assert _rows(table) == _approx(_expected(ADAPTIVE))


def test_a_transform_reads_only_its_inputs_and_leaves_no_names_behind(batch_env):
    from pyflink.table.expressions import col

    from jobs import orders_metrics

    # A view of the caller named like the transform's input: the transform must not read it.
    batch_env.create_temporary_view("int_orders_enriched_matched", _orders(batch_env).filter(col("region") == "US"))
    names = (batch_env.get_current_database(), batch_env.list_temporary_views(), batch_env.list_databases())
    first = orders_metrics.transform(batch_env, _orders(batch_env))
    again = orders_metrics.transform(batch_env, _orders(batch_env))
    assert (batch_env.get_current_database(), batch_env.list_temporary_views(), batch_env.list_databases()) == names
    name = tables.METRICS_1H.name
    assert _rows(first[name]) == _rows(again[name]) == _approx(_expected(METRICS[name]))
    batch_env.drop_temporary_view("int_orders_enriched_matched")


def test_a_sink_is_filled_by_column_name(batch_env):
    from pyflink.table import DataTypes
    from pyflink.table.expressions import col

    spec = tables.LATE_EVENTS
    types = {"STRING": DataTypes.STRING(), "TIMESTAMP(3)": DataTypes.TIMESTAMP(3), "BIGINT": DataTypes.BIGINT()}
    row = ("e1", "ORDER_PLACED", "o1", _time("10:00"), _time("10:01"), 60, "{}")
    schema = DataTypes.ROW([DataTypes.FIELD(name, types[kind]) for name, kind in spec.columns])
    table = batch_env.from_elements([row], schema)
    swapped = table.select(*[col(name) for name in reversed(spec.column_names())])
    assert _rows(spec.select_columns(swapped)) == [row]
    assert spec.select_columns(table) is table  # already in order: inserted as it is, the plan unchanged


# Order-event messages in arrival order: seconds after 10:00 for ts_ms (None: not a usable time),
# and the message. One stream, as the embedded file source reads.
T0_MS = int(_time("10:00").replace(tzinfo=UTC).timestamp() * 1000)
MESSAGES = [
    (
        10,
        {
            "event_type": "ORDER_PLACED",
            "event_id": "e1",
            "customer_id": "c1",
            "product_id": "p1",
            "quantity": 2,
            "amount": 20.0,
            "currency": "EUR",
        },
    ),
    (20, {"event_type": "PAYMENT_RECEIVED", "event_id": "e2", "payment_id": "pay1", "amount": 20.0, "currency": "EUR"}),
    (
        10,
        {
            "event_type": "ORDER_PLACED",
            "event_id": "e1",
            "customer_id": "c1",
            "product_id": "p1",
            "quantity": 2,
            "amount": 20.0,
            "currency": "EUR",
        },
    ),
    (None, "{oops"),
    (40, {"event_type": "REFUNDED", "event_id": "e4"}),
    (
        45,
        {
            "event_type": "ORDER_PLACED",
            "event_id": "e5",
            "product_id": "p1",
            "quantity": 1,
            "amount": 5.0,
            "currency": "EUR",
        },
    ),
    (
        50,
        {
            "event_type": "ORDER_PLACED",
            "event_id": "e6",
            "customer_id": "c1",
            "product_id": "p1",
            "quantity": 1,
            "amount": 5.0,
            "currency": "JPY",
        },
    ),
    (
        55,
        {
            "event_type": "ORDER_PLACED",
            "event_id": "e7",
            "customer_id": "c1",
            "product_id": "p1",
            "quantity": 0,
            "amount": 5.0,
            "currency": "EUR",
        },
    ),
    (60, {"event_type": "SHIPPED", "event_id": "e8", "carrier": "dhl"}),
    (30, {"event_type": "DELIVERED", "event_id": "e9"}),
    (61, {"event_type": "CANCELLED", "event_id": "e10", "reason": "customer"}),
    (None, ""),
]
REASONS = {
    3: "invalid JSON",
    4: "unknown event_type",
    5: "missing field: customer_id",
    6: "unknown currency",
    7: "quantity must be positive",
    11: "empty record",
}
# event_id, event_type, quantity, amount, currency, payment_id, carrier, cancel_reason, is_late, dt
SILVER_EVENTS = [
    ("e1", "ORDER_PLACED", 2, 20.0, "EUR", None, None, None, False, "2026-11-30"),
    ("e10", "CANCELLED", None, None, None, None, None, "customer", False, "2026-11-30"),
    ("e2", "PAYMENT_RECEIVED", None, 20.0, "EUR", "pay1", None, None, False, "2026-11-30"),
    ("e8", "SHIPPED", None, None, None, None, "dhl", None, False, "2026-11-30"),
    # 30 s, after an event at 60 s: at or behind the stream's watermark (60 s less the 5 s delay)
    ("e9", "DELIVERED", None, None, None, None, None, None, True, "2026-11-30"),
]


def _message(seconds, body) -> bytes:
    if isinstance(body, str):
        return body.encode()
    return json.dumps({**body, "order_id": "o1", "ts_ms": T0_MS + seconds * 1000}).encode()


def _order_events(t_env):
    from pyflink.table import DataTypes

    arrival = datetime(2026, 11, 30, 12, tzinfo=UTC)
    rows = [
        (
            bytearray(_message(seconds, body)),
            f"order-events/{i}",
            "files",
            arrival,
            arrival + timedelta(milliseconds=i),
            datetime.fromtimestamp((T0_MS + seconds * 1000) / 1000 if seconds is not None else 0, UTC),
        )
        for i, (seconds, body) in enumerate(MESSAGES)
    ]
    ltz = DataTypes.TIMESTAMP_LTZ(3)
    names = ("message", "record_position", "record_stream", "arrival_time", "proc_time", "event_time")
    kinds = (DataTypes.BYTES(), DataTypes.STRING(), DataTypes.STRING(), ltz, ltz, ltz)
    return t_env.from_elements(rows, DataTypes.ROW([DataTypes.FIELD(n, k) for n, k in zip(names, kinds, strict=True)]))


def _changes(t_env, key: str):
    from pyflink.table import DataTypes

    at = datetime(2026, 11, 30, 9, tzinfo=UTC)
    envelope = json.dumps({"op": "c", "after": {key: "x1", "updated_at": int(at.timestamp() * 1000)}})
    ltz = DataTypes.TIMESTAMP_LTZ(3)
    names = ("payload", "arrival_time", "envelope", "version_time")
    kinds = (DataTypes.STRING(), ltz, DataTypes.STRING(), ltz)
    return t_env.from_elements(
        [(envelope, at, envelope, at)],
        DataTypes.ROW([DataTypes.FIELD(n, k) for n, k in zip(names, kinds, strict=True)]),
    )


@pytest.fixture(scope="module")
def enriched(batch_env):
    from jobs import orders_enrich

    return orders_enrich.transform(
        batch_env, _order_events(batch_env), _changes(batch_env, "customer_id"), _changes(batch_env, "product_id")
    )


def test_staging_gives_each_broken_message_its_reason(enriched):
    from pyflink.table.expressions import col

    from jobs import orders_enrich

    staged = enriched[orders_enrich.STAGED_EVENTS].select(col("payload"), col("reason"))
    expected = [(_message(*MESSAGES[i]).decode(), REASONS.get(i)) for i in range(len(MESSAGES))]
    assert _rows(staged) == sorted(expected, key=lambda row: (row[0], row[1] or ""))


def test_silver_order_events_keeps_the_first_of_each_event_id_and_flags_late_ones(enriched):
    from pyflink.table.expressions import col

    columns = ("event_id", "event_type", "quantity", "amount", "currency", "payment_id", "carrier")
    columns += ("cancel_reason", "is_late", "dt")
    table = enriched[tables.ORDER_EVENTS.name].select(*[col(c) for c in columns])
    assert _rows(table) == SILVER_EVENTS


def test_late_events_say_how_late(enriched):
    from pyflink.table.expressions import col

    table = enriched[tables.LATE_EVENTS.name].select(
        col("event_id"), col("event_time"), col("watermark_at_arrival"), col("lateness_seconds")
    )
    assert _rows(table) == [("e9", _time("10:00:30"), _time("10:00:55"), 25)]
