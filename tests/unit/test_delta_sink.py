"""The Delta connector's writer and committer (connectors/delta) on local disk, driven as a job
drives them (one committable per checkpoint), checked with delta-rs and polars."""

from __future__ import annotations

import json
import math

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from lakehouse import config
from lakehouse.lake import storage, tables
from tests import delta_tool

SPEC = tables.ORDER_EVENTS
APP = "orders-pipeline/silver.order_events/job-1/0"


@pytest.fixture
def settings(tmp_path):
    s = config.load("embedded", data_dir=tmp_path)
    storage.ensure_tables(s, (SPEC,))
    return s


def _uri(settings) -> str:
    return storage.table_uri(settings, SPEC)


def _rows(uri: str) -> list[dict]:
    return sorted(DeltaTable(uri).to_pyarrow_table().to_pylist(), key=lambda r: r["event_id"])


def _add_actions(uri: str) -> pa.Table:
    return pa.table(DeltaTable(uri).get_add_actions(flatten=True))


def test_rows_land_once_as_partitioned_parquet_with_statistics(settings):
    rows = delta_tool.sample_events(40)  # spans midnight: two dt partitions
    results = delta_tool.append(_uri(settings), SPEC, rows, app_id=APP, batches=2)
    assert [r["skipped"] for r in results] == [0, 0]

    table = DeltaTable(_uri(settings))
    assert table.version() == 2, "one log version per committable"
    stored = _rows(_uri(settings))
    assert [r["event_id"] for r in stored] == [r["event_id"] for r in rows]
    for got, want in zip(stored, rows, strict=True):
        assert got["event_time"] == want["event_time"] and got["amount"] == want["amount"] and got["dt"] == want["dt"]
    assert table.transaction_version(APP) == 2

    actions = _add_actions(_uri(settings)).to_pylist()
    assert {a["partition.dt"] for a in actions} == {"2026-01-01", "2026-01-02"}
    assert sum(a["num_records"] for a in actions) == len(rows)
    for action in actions:  # each file's bounds are its own rows' bounds
        mine = [r for r in stored if r["dt"] == action["partition.dt"]]
        assert action["path"].startswith(f"dt={action['partition.dt']}/") and action["path"].endswith(".parquet")
        assert action["min.event_time"] >= min(r["event_time"] for r in mine)
        assert action["max.event_time"] <= max(r["event_time"] for r in mine)
    assert pl.read_delta(_uri(settings)).height == len(rows)


def test_a_committable_delivered_again_commits_nothing_and_the_log_says_why(settings):
    rows = delta_tool.sample_events(10)
    results = delta_tool.append(_uri(settings), SPEC, rows, app_id=APP, deliveries=3)
    assert [r["skipped"] for r in results] == [0, 1, 1]
    assert DeltaTable(_uri(settings)).version() == 1
    # A restore from an older checkpoint replays version 1 again, then goes on with version 2.
    assert delta_tool.append(_uri(settings), SPEC, rows, app_id=APP, version=1)[0]["skipped"] == 1
    more = delta_tool.sample_events(5, start=10)
    assert delta_tool.append(_uri(settings), SPEC, more, app_id=APP, version=2)[0]["skipped"] == 0
    assert [r["event_id"] for r in _rows(_uri(settings))] == [r["event_id"] for r in rows + more]
    history = [h for h in DeltaTable(_uri(settings)).history() if h["operation"] == "STREAMING UPDATE"]
    assert [json.loads(h["lakehouse.transactions"]) for h in history] == [{APP: 2}, {APP: 1}]


def test_another_job_is_another_app_id_and_is_never_skipped(settings):
    delta_tool.append(_uri(settings), SPEC, delta_tool.sample_events(3), app_id="a/job-1/0", version=7)
    delta_tool.append(_uri(settings), SPEC, delta_tool.sample_events(3, start=3), app_id="a/job-2/0", version=1)
    assert len(_rows(_uri(settings))) == 6


def test_transaction_state_is_read_from_a_log_checkpoint_written_by_delta_rs(settings):
    uri = _uri(settings)
    delta_tool.append(uri, SPEC, delta_tool.sample_events(30), app_id=APP, batches=3)
    table = DeltaTable(uri)
    table.create_checkpoint()
    log = settings.data_dir / "tables" / SPEC.path / "_delta_log"
    for version in range(table.version()):  # only the checkpoint can tell the sink about versions 1-3
        (log / f"{version:020d}.json").unlink()
    assert (
        delta_tool.append(uri, SPEC, delta_tool.sample_events(10, start=20), app_id=APP, version=3)[0]["skipped"] == 1
    )
    assert delta_tool.append(uri, SPEC, delta_tool.sample_events(5, start=30), app_id=APP, version=4)[0]["skipped"] == 0
    ids = [r["event_id"] for r in _rows(uri)]
    assert ids == [f"E{i:06d}" for i in range(35)]
    assert pl.read_delta(uri).height == 35


def test_the_sink_writes_log_checkpoints_that_delta_rs_polars_and_the_sink_read(settings):
    uri = _uri(settings)
    rows = delta_tool.sample_events(60)
    delta_tool.append(uri, SPEC, rows[:30], app_id=APP, batches=6, checkpoint_interval=4)
    log = settings.data_dir / "tables" / SPEC.path / "_delta_log"
    assert (log / f"{4:020d}.checkpoint.parquet").exists()
    assert json.loads((log / "_last_checkpoint").read_text())["version"] == 4
    # Compaction between two checkpoints: the next checkpoint must hold its removes and adds.
    DeltaTable(uri).optimize.compact()
    delta_tool.append(uri, SPEC, rows[30:], app_id=APP, version=7, batches=2, checkpoint_interval=4)
    assert json.loads((log / "_last_checkpoint").read_text())["version"] == 8
    for version in range(8):  # readers (and the sink) now depend on the checkpoint
        (log / f"{version:020d}.json").unlink()
    table = DeltaTable(uri)
    assert table.version() == 9
    assert [r["event_id"] for r in _rows(uri)] == [r["event_id"] for r in rows]
    assert pl.read_delta(uri).height == len(rows)
    assert table.transaction_version(APP) == 8
    assert sum(a["num_records"] for a in _add_actions(uri).to_pylist()) == len(rows), "statistics survive"
    assert delta_tool.append(uri, SPEC, rows[:5], app_id=APP, version=8)[0]["skipped"] == 1
    assert len(_rows(uri)) == len(rows)


def test_non_finite_amounts_are_stored_and_give_no_file_bounds(settings):
    rows = delta_tool.sample_events(3)
    rows[1]["amount"] = "NaN"
    rows[2]["amount"] = "Infinity"
    delta_tool.append(_uri(settings), SPEC, rows, app_id=APP)
    amounts = [r["amount"] for r in _rows(_uri(settings))]
    assert amounts[0] == 10.0 and math.isnan(amounts[1]) and amounts[2] == math.inf
    action = _add_actions(_uri(settings)).to_pylist()[0]
    assert action["min.amount"] is None and action["max.amount"] is None
    assert action["min.quantity"] == 1


def test_a_table_with_other_columns_is_refused_with_the_reason(settings, tmp_path):
    other = str(tmp_path / "other")
    storage.create_table_if_absent(settings, tables.ANOMALIES, other)
    with pytest.raises(RuntimeError, match="but the sink writes"):
        delta_tool.append(other, SPEC, delta_tool.sample_events(2), app_id=APP)
    assert DeltaTable(other).version() == 0, "nothing was committed"
