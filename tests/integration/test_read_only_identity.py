"""Python readers on the local stack read with the read-only S3 identity: what the writer's keys
wrote, the reader's keys read, through the same code paths as the reports (a catalog snapshot, the
quality verdicts table), and delta-rs refuses to write with them. Only S3 is used: no job runs."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse import config
from lakehouse.lake import catalog, storage, tables
from lakehouse.quality import gates

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(local_stack):
    settings = config.load("local", table_root=f"s3://lakehouse/it-ro-{uuid.uuid4().hex[:8]}/tables")
    assert settings.reader.access_key and settings.reader != settings.writer, "the session sets both identities"
    return settings


def test_readers_read_what_the_writer_wrote_and_cannot_write(settings):
    scratch = f"{settings.tables_uri()}/scratch"
    write_deltalake(scratch, pa.table({"x": [1, 2]}), storage_options=settings.storage_options())
    reader = settings.reader_storage_options()
    assert reader["AWS_ACCESS_KEY_ID"] == settings.reader.access_key
    assert DeltaTable(scratch, storage_options=reader).to_pyarrow_table().column("x").to_pylist() == [1, 2]
    with pytest.raises(Exception, match="(?i)privileges|access ?denied|forbidden"):
        write_deltalake(scratch, pa.table({"x": [3]}), mode="append", storage_options=reader)
    assert DeltaTable(scratch, storage_options=settings.storage_options()).version() == 0, "nothing was written"


def test_a_snapshot_and_the_quality_verdicts_read_as_the_reader(settings):
    storage.ensure_tables(settings, (tables.ORDER_EVENTS,))
    gates.ensure_results_table(settings)
    snapshot = catalog.snapshot(settings, (tables.ORDER_EVENTS,))
    assert snapshot.storage_options["AWS_ACCESS_KEY_ID"] == settings.reader.access_key
    assert snapshot.version(tables.ORDER_EVENTS) == 0
    assert snapshot.open(tables.ORDER_EVENTS).to_pyarrow_table().num_rows == 0
    assert gates.results(settings).empty
