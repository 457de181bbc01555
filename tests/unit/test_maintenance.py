"""Compaction and vacuum while the committer keeps writing: nothing is lost, nothing doubled."""

import json
import threading

from deltalake import DeltaTable

from lakehouse import committer, config, maintenance, tables

SPEC = tables.ORDER_EVENTS
BATCHES = 15
ROWS_PER_BATCH = 50


def _event(i: int) -> dict:
    row = {c: None for c in SPEC.column_names()}
    return {
        **row,
        "event_id": f"E{i:06d}",
        "event_type": "SHIPPED",
        "order_id": f"O{i // 3:06d}",
        "event_time": "2026-01-01T00:00:00.000",
        "is_late": False,
        "dt": "2026-01-01" if i % 2 else "2026-01-02",
    }


def test_compaction_and_vacuum_during_writes_lose_nothing(tmp_path):
    settings = config.load("embedded", data_dir=tmp_path)
    committer.ensure_tables(settings, (SPEC,))
    staging = tmp_path / "staging" / SPEC.path
    staging.mkdir(parents=True)
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for b in range(BATCHES):
                rows = [_event(b * ROWS_PER_BATCH + i) for i in range(ROWS_PER_BATCH)]
                (staging / f"part-w-0-{b}").write_text("".join(json.dumps(r) + "\n" for r in rows))
                committer.commit_pending(settings, (SPEC,))
        except BaseException as error:  # noqa: BLE001 - reported by the test thread below
            errors.append(error)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    passes = 0
    while not done.is_set() or passes == 0:
        maintenance.maintain(settings, retention_hours=0, specs=(SPEC,))
        passes += 1
    writer.join()
    assert not errors, errors
    committer.commit_pending(settings, (SPEC,))
    maintenance.maintain(settings, retention_hours=0, specs=(SPEC,))

    table = DeltaTable(committer.table_uri(settings, SPEC))
    ids = [row["event_id"] for row in table.to_pyarrow_table(columns=["event_id"]).to_pylist()]
    assert len(ids) == len(set(ids)) == BATCHES * ROWS_PER_BATCH
    assert passes >= 2, "maintenance ran while the writer was committing"
    assert len(table.file_uris()) <= 2, "compaction left one file per partition"
