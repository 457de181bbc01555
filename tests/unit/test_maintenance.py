"""Compaction, vacuum and log checkpoints while the job's Delta sink keeps committing: the log
stays contiguous, every committed file is there once, no row is lost or doubled."""

import re
import threading
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakehouse import config
from lakehouse.lake import maintenance, storage, tables
from tests import delta_tool

SPEC = tables.ORDER_EVENTS
BATCHES = 15
ROWS = 750


def test_compaction_vacuum_and_checkpoints_during_streaming_commits_lose_nothing(tmp_path):
    settings = config.load("embedded", data_dir=tmp_path)
    storage.ensure_tables(settings, (SPEC,))
    uri = storage.table_uri(settings, SPEC)
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            delta_tool.append(uri, SPEC, delta_tool.sample_events(ROWS), app_id="job/0", batches=BATCHES)
        except BaseException as error:  # noqa: BLE001 - reported by the test thread below
            errors.append(error)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    passes = 0
    while not done.is_set() or passes == 0:
        maintenance.maintain(settings, retention_hours=0, allow_short_retention=True, specs=(SPEC,))
        passes += 1
    writer.join()
    assert not errors, errors
    maintenance.maintain(settings, retention_hours=0, allow_short_retention=True, specs=(SPEC,))

    table = DeltaTable(uri)
    ids = [row["event_id"] for row in table.to_pyarrow_table(columns=["event_id"]).to_pylist()]
    assert len(ids) == len(set(ids)) == ROWS
    assert table.transaction_version("job/0") == BATCHES
    log = Path(uri) / "_delta_log"
    versions = sorted(int(m.group(1)) for p in log.iterdir() if (m := re.fullmatch(r"(\d{20})\.json", p.name)))
    assert versions == list(range(table.version() + 1)), "log versions are contiguous"
    files = table.file_uris()
    assert len(files) == len(set(files)) and all(Path(f.removeprefix("file://")).exists() for f in files)
    assert passes >= 2, "maintenance ran while the sink was committing"
    assert len(files) <= 2, "compaction left one file per partition"


def test_a_retention_shorter_than_an_hour_is_refused(tmp_path):
    settings = config.load("embedded", data_dir=tmp_path)
    with pytest.raises(ValueError, match="uploaded but not committed"):
        maintenance.maintain(settings, retention_hours=0)
