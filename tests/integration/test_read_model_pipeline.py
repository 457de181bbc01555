"""gold.orders_current on a real pipeline run, compared with the independent fold: built commit by
commit, then after replaying every event twice, and as its follower keeps it beside the running
job (``read_model.follow``), across a re-run of the input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from deltalake import DeltaTable

from lakehouse.lake import read_model, storage, tables
from lakehouse.pipeline import embedded
from tests import delta_tool
from tests.reference_orders import compare, expected_orders

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lake(pipeline_lake_copy):
    return pipeline_lake_copy("read-model")


def _events(settings, version: int | None = None) -> list[dict]:
    table = DeltaTable(storage.table_uri(settings, tables.ORDER_EVENTS), version=version)
    return table.to_pyarrow_table().to_pylist()


def _current(settings) -> list[dict]:
    return read_model.read_orders_current(settings).to_pylist()


def _version(settings) -> int:
    return DeltaTable(read_model.table_uri(settings)).version()


def test_built_commit_by_commit_it_equals_the_fold_and_replays_change_nothing(lake):
    if DeltaTable.is_deltatable(read_model.table_uri(lake)):
        DeltaTable(read_model.table_uri(lake)).delete()  # start empty, whatever the pipeline left
    log = DeltaTable(storage.table_uri(lake, tables.ORDER_EVENTS))
    seen: set[str] = set()
    for version in range(1, log.version() + 1):  # each commit of the log, as the hook sees them
        batch = [e for e in _events(lake, version) if e["event_id"] not in seen]
        seen |= {e["event_id"] for e in batch}
        read_model.update_orders_current(lake, order_ids={e["order_id"] for e in batch})
    events = _events(lake)
    expected = expected_orders(events)
    assert len(expected) > 5_000
    assert compare(_current(lake), expected) == []

    stable = _version(lake)
    for _ in range(2):  # replay every event, twice
        result = read_model.update_orders_current(lake)
        assert (result.inserted, result.updated, result.deleted) == (0, 0, 0)
    assert _version(lake) == stable
    assert compare(_current(lake), expected) == []
    statuses = {row["status"] for row in _current(lake)}
    assert {"DELIVERED", "SHIPPED", "CANCELLED"} <= statuses
    assert any(row["compensated"] for row in _current(lake))


def test_the_follower_keeps_it_current_beside_the_job_and_across_a_rerun(pipeline_lake_copy):
    settings = pipeline_lake_copy("read-model-follower")
    assert DeltaTable.is_deltatable(read_model.table_uri(settings)), "the run's follower built the read model"
    assert compare(_current(settings), expected_orders(_events(settings))) == []
    silver = DeltaTable(storage.table_uri(settings, tables.ORDER_EVENTS)).version()
    assert read_model.followed_version(settings) <= silver
    again = read_model.follow(settings)  # caught up: nothing, or a recompute that changes nothing
    assert again is None or (again.inserted, again.updated, again.deleted) == (0, 0, 0)
    before = _version(settings)
    inserted = embedded.run_pipeline(settings)  # the same input again: nothing to do
    assert inserted[tables.ORDER_EVENTS.name] == 0
    assert _version(settings) == before
    assert compare(_current(settings), expected_orders(_events(settings))) == []


def test_the_follower_reads_only_the_versions_it_has_not_seen(lake):
    # The job's sink appends a small batch to silver.order_events (its own writer and committer):
    # a cancellation of three existing orders and two new orders. The follower, told where it
    # stood, recomputes exactly those five orders, and the read model equals the full fold.
    uri = storage.table_uri(lake, tables.ORDER_EVENTS)
    before = DeltaTable(uri).version()
    read_model.follow(lake, since=before)  # nothing new yet
    existing = sorted({e["order_id"] for e in _events(lake)})[:3]
    at = max(e["event_time"] for e in _events(lake)) + timedelta(seconds=1)
    blank = {name: None for name in tables.ORDER_EVENTS.column_names()}
    batch = [
        {
            **blank,
            "event_id": f"F{i}",
            "event_type": "CANCELLED",
            "order_id": order,
            "event_time": at,
            "cancel_reason": "customer request",
            "is_late": False,
            "dt": at.date().isoformat(),
        }
        for i, order in enumerate(existing)
    ] + [
        {
            **blank,
            "event_id": f"N{i}",
            "event_type": "ORDER_PLACED",
            "order_id": f"N{i:07d}",
            "event_time": at,
            "customer_id": "C0001",
            "product_id": "P001",
            "quantity": 1,
            "amount": 10.0,
            "currency": "EUR",
            "is_late": False,
            "dt": at.date().isoformat(),
        }
        for i in range(2)
    ]
    delta_tool.append(uri, tables.ORDER_EVENTS, batch, app_id="follower-test/0")
    result = read_model.follow(lake, since=before)
    assert result is not None and result.orders == len(existing) + 2
    assert (result.inserted, result.updated) == (2, len(existing))
    assert compare(_current(lake), expected_orders(_events(lake))) == []
    cancelled = {row["order_id"]: row["status"] for row in _current(lake) if row["order_id"] in existing}
    assert set(cancelled.values()) == {"CANCELLED"}
