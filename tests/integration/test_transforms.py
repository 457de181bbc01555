"""The jobs' transforms on a dozen in-memory rows in a batch TableEnvironment, against rows computed
by hand.

Batch mode runs the window metrics and the static anomaly rules as the streaming job does (a
window's time column is a plain timestamp here). What needs a time attribute, which in-memory rows
do not carry (no watermark), is left to test_embedded_pipeline, which compares every table with the
reference model: the adaptive rule (a Table API over-window, valid only over a time attribute) and
the enrichment's joins (Flink's batch planner has no event-time temporal join, FOR SYSTEM_TIME AS OF
on a versioned view: FLINK-39420).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from lakehouse.lake import tables
from lakehouse.rules import Rules, StaticRule

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
