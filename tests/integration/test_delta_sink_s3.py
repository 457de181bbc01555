"""The Delta sink's writer and committer against the local stack's S3 (SeaweedFS): two jobs on two
tables of one bucket, and two writers racing for the log versions of one table, at the same time.
Every commit must land once, with contiguous log versions; readers see every row once."""

from __future__ import annotations

import os
import threading
import uuid

import polars as pl
import pytest
from deltalake import DeltaTable

from lakehouse import config
from lakehouse.lake import storage, tables
from tests import delta_tool

pytestmark = pytest.mark.integration

SPEC = tables.ORDER_EVENTS
BATCHES = 8
ROWS = 400


@pytest.fixture(scope="module")
def settings(local_stack):
    run = uuid.uuid4().hex[:8]
    return config.load("local", table_root=f"s3://lakehouse/it-sink-{run}/tables")


def test_two_tables_and_two_racing_writers_in_one_bucket(settings):
    first = config.load("local", table_root=f"{settings.table_root}/a")
    second = config.load("local", table_root=f"{settings.table_root}/b")
    storage.ensure_tables(first, (SPEC,))
    storage.ensure_tables(second, (SPEC,))
    env = {
        "AWS_ACCESS_KEY_ID": os.environ["S3_WRITER_ACCESS_KEY"],
        "AWS_SECRET_ACCESS_KEY": os.environ["S3_WRITER_SECRET_KEY"],
    }
    writers = {  # app id -> (table settings, rows): job-1 and job-3 race on table a
        "job-1/0": (first, delta_tool.sample_events(ROWS, start=0)),
        "job-2/0": (second, delta_tool.sample_events(ROWS, start=0)),
        "job-3/0": (first, delta_tool.sample_events(ROWS, start=ROWS)),
    }
    results: dict[str, list[dict]] = {}
    errors: list[BaseException] = []

    def write(app_id: str) -> None:
        target, rows = writers[app_id]
        try:
            results[app_id] = delta_tool.append(
                storage.table_uri(target, SPEC),
                SPEC,
                rows,
                app_id=app_id,
                batches=BATCHES,
                deliveries=2,  # every committable delivered twice, as after a restore
                s3_endpoint=settings.s3_endpoint,
                env=env,
            )
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(app_id,)) for app_id in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors

    for app_id, (target, _rows) in writers.items():
        skipped = [r["skipped"] for r in results[app_id]]
        assert skipped == [0, 1] * BATCHES, f"{app_id}: each second delivery is recognised as committed"
        table = DeltaTable(storage.table_uri(target, SPEC), storage_options=target.storage_options())
        assert table.transaction_version(app_id) == BATCHES
    for target, expected in ((first, 2 * ROWS), (second, ROWS)):
        uri = storage.table_uri(target, SPEC)
        table = DeltaTable(uri, storage_options=target.storage_options())
        history = table.history()
        assert sorted(h["version"] for h in history) == list(range(table.version() + 1)), "contiguous log"
        appends = [h for h in history if h["operation"] == "STREAMING UPDATE"]
        assert len(appends) == expected // ROWS * BATCHES, "one version per committed batch, none twice"
        ids = table.to_pyarrow_table(columns=["event_id"])["event_id"].to_pylist()
        assert len(ids) == len(set(ids)) == expected
        assert pl.read_delta(uri, storage_options=target.storage_options()).height == expected
