"""The committer on hand-written staging files: exactly once, idempotent replays, provenance."""

import json
import shutil
from datetime import UTC, datetime

import pytest
from deltalake import DeltaTable

from lakehouse import committer, config, ledger, maintenance, tables

SPEC = tables.METRICS_1M


def _row(minute: int, region: str, count: int) -> dict:
    return {
        "window_start": f"2026-01-01T00:{minute:02d}:00",
        "window_end": f"2026-01-01T00:{minute + 1:02d}:00",
        "region": region,
        "category": "books",
        "order_count": count,
        "revenue_eur": 10.5 * count,
        "avg_order_value_eur": 10.5,
        "distinct_customers": count,
        "min_amount_eur": 10.5,
        "max_amount_eur": 10.5,
    }


@pytest.fixture
def settings(tmp_path):
    ledger.clear_cache()
    s = config.load("embedded", data_dir=tmp_path)
    committer.ensure_tables(s)
    return s


def _stage(settings, name: str, rows: list[dict], spec=SPEC) -> None:
    directory = settings.data_dir / "staging" / spec.path
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def _table(settings, spec=SPEC) -> list[dict]:
    return DeltaTable(committer.table_uri(settings, spec)).to_pyarrow_table().to_pylist()


def test_visible_files_are_committed_once_and_kept_for_flink(settings):
    _stage(settings, "part-a-0-0", [_row(0, "APAC", 3), _row(0, "EU-WEST", 2)])
    results = committer.commit_pending(settings, (SPEC,))
    assert [(r.files, r.rows_read, r.rows_inserted) for r in results] == [(1, 2, 2)]
    rows = _table(settings)
    assert sorted((r["region"], r["order_count"]) for r in rows) == [("APAC", 3), ("EU-WEST", 2)]
    assert rows[0]["window_start"] == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert committer.commit_pending(settings, (SPEC,)) == []
    # Flink re-commits a restored checkpoint's pending files and fails if they are gone.
    assert (settings.data_dir / "staging" / SPEC.path / "part-a-0-0").exists()


def test_a_restarted_committer_reads_the_ledger_and_skips_merged_files(settings):
    _stage(settings, "part-a-0-0", [_row(0, "APAC", 3)])
    committer.commit_pending(settings, (SPEC,))
    ledger.clear_cache()  # a new committer process
    _stage(settings, "part-a-0-1", [_row(1, "APAC", 4)])
    [result] = committer.commit_pending(settings, (SPEC,))
    assert (result.files, result.rows_read, result.rows_inserted) == (1, 1, 1)


def test_the_ledger_folds_its_entries_and_stays_exact(settings, monkeypatch):
    monkeypatch.setattr(ledger, "FOLD_AFTER_ENTRIES", 3)
    for minute in range(6):
        _stage(settings, f"part-a-0-{minute}", [_row(minute, "APAC", minute + 1)])
        committer.commit_pending(settings, (SPEC,))
    ledger_dir = settings.data_dir / "staging" / "_ledger" / SPEC.path
    assert len(list(ledger_dir.iterdir())) <= 4
    ledger.clear_cache()
    assert committer.commit_pending(settings, (SPEC,)) == []
    assert sorted(r["order_count"] for r in _table(settings)) == [1, 2, 3, 4, 5, 6]


def test_maintenance_removes_merged_staging_files_after_the_retention_only(settings):
    _stage(settings, "part-a-0-0", [_row(0, "APAC", 3)])
    committer.commit_pending(settings, (SPEC,))
    _stage(settings, "part-a-0-1", [_row(1, "APAC", 4)])  # not merged yet: never removed
    staging = settings.data_dir / "staging" / SPEC.path
    assert maintenance.remove_merged_staging(settings, SPEC, retention_hours=1, dry_run=False) == 0
    assert maintenance.remove_merged_staging(settings, SPEC, retention_hours=0, dry_run=True) == 1
    assert (staging / "part-a-0-0").exists()
    assert maintenance.remove_merged_staging(settings, SPEC, retention_hours=0, dry_run=False) == 1
    assert sorted(p.name for p in staging.iterdir()) == ["part-a-0-1"]
    ledger.clear_cache()
    [result] = committer.commit_pending(settings, (SPEC,))
    assert (result.files, result.rows_inserted) == (1, 1)
    assert sorted(r["order_count"] for r in _table(settings)) == [3, 4]


def test_in_progress_files_are_left_alone(settings):
    _stage(settings, ".part-a-0-0.inprogress.1234", [_row(0, "APAC", 3)])
    assert committer.commit_pending(settings, (SPEC,)) == []
    assert _table(settings) == []


def test_replaying_the_same_rows_inserts_nothing(settings):
    _stage(settings, "part-a-0-0", [_row(0, "APAC", 3), _row(1, "APAC", 4)])
    committer.commit_pending(settings, (SPEC,))
    version = DeltaTable(committer.table_uri(settings, SPEC)).version()
    # A crash after the Delta commit but before the ledger record, or a second run of the same
    # input, hands the committer the same rows again.
    shutil.rmtree(settings.data_dir / "staging" / "_ledger")
    ledger.clear_cache()
    _stage(settings, "part-b-0-0", [_row(1, "APAC", 4), _row(2, "APAC", 5)])
    [result] = committer.commit_pending(settings, (SPEC,))
    assert (result.rows_read, result.rows_inserted) == (4, 1)
    assert sorted(r["order_count"] for r in _table(settings)) == [3, 4, 5]
    assert DeltaTable(committer.table_uri(settings, SPEC)).version() == version + 1


def test_each_commit_records_its_provenance(settings):
    _stage(settings, "part-a-0-0", [_row(0, "APAC", 3)])
    committer.commit_pending(settings, (SPEC,))
    _stage(settings, "part-a-0-1", [_row(1, "APAC", 3)])
    committer.commit_pending(settings, (SPEC,))
    table = DeltaTable(committer.table_uri(settings, SPEC))
    app_id = f"{settings.job_name}/{SPEC.name}"
    assert table.transaction_version(app_id) == 2
    latest = table.history(1)[0]
    assert latest["lakehouse.table"] == SPEC.name
    assert json.loads(latest["lakehouse.staging_files"]) == ["part-a-0-1"]


def test_partitioned_tables_prune_by_partition_and_stay_exact(settings):
    spec = tables.ORDER_EVENTS
    event = {c: None for c in spec.column_names()}
    rows = [
        {
            **event,
            "event_id": f"E{i}",
            "event_type": "SHIPPED",
            "order_id": "O1",
            "event_time": "2026-01-01T23:59:59.500",
            "is_late": False,
            "dt": "2026-01-01" if i < 2 else "2026-01-02",
        }
        for i in range(4)
    ]
    _stage(settings, "part-a-0-0", rows, spec)
    _stage(settings, "part-b-0-0", rows[1:], spec)
    committer.commit_pending(settings, (spec,))
    assert sorted(r["event_id"] for r in _table(settings, spec)) == ["E0", "E1", "E2", "E3"]


def test_a_file_that_does_not_match_the_schema_is_an_error_and_nothing_is_lost(settings):
    _stage(settings, "part-a-0-0", [{**_row(0, "APAC", 3), "unexpected": 1}])
    with pytest.raises(Exception, match="unexpected|Unexpected|field"):
        committer.commit_pending(settings, (SPEC,))
    assert list((settings.data_dir / "staging" / SPEC.path).iterdir()), "the staging file must survive a failed commit"
