"""Python readers use the read-only S3 identity, writers the writer's: every DeltaTable a reader
opens, and the filesystem the version pointer is read through, gets the reader's keys. No service:
delta-rs and pyarrow's S3 filesystem are replaced by recorders."""

from __future__ import annotations

import pytest

from lakehouse import config
from lakehouse.lake import catalog, read_model, storage, tables
from lakehouse.quality import gates
from lakehouse.query import batch_report

KEYS = {
    "S3_WRITER_ACCESS_KEY": "writer-id",
    "S3_WRITER_SECRET_KEY": "writer-secret",
    "S3_READER_ACCESS_KEY": "reader-id",
    "S3_READER_SECRET_KEY": "reader-secret",
}


class _Recorded:
    """Stands in for deltalake.DeltaTable: an empty table at version 0 that records its keys."""

    keys: list[str] = []

    def __init__(self, uri, *, version=None, storage_options=None):
        _Recorded.keys.append((storage_options or {}).get("AWS_ACCESS_KEY_ID"))
        self.table_uri = uri

    @staticmethod
    def is_deltatable(uri, storage_options=None):
        _Recorded.keys.append((storage_options or {}).get("AWS_ACCESS_KEY_ID"))
        return True

    def version(self):
        return 0

    def history(self, limit=None):
        return []

    def to_pyarrow_table(self):
        return gates.QUALITY_RESULTS.arrow_schema().empty_table()


@pytest.fixture
def settings(monkeypatch):
    _Recorded.keys = []
    for module in (catalog, read_model, gates):
        monkeypatch.setattr(module, "DeltaTable", _Recorded)
    monkeypatch.setattr(catalog, "read_pointer", lambda settings: None)
    return config.load("local", env=KEYS)


def test_a_snapshot_opens_every_table_with_the_reader_identity(settings):
    snapshot = catalog.snapshot(settings, tables.ALL)
    assert snapshot.storage_options["AWS_ACCESS_KEY_ID"] == "reader-id"
    snapshot.open(tables.ORDER_EVENTS)
    assert _Recorded.keys and set(_Recorded.keys) == {"reader-id"}


def test_the_read_model_and_the_quality_results_read_as_the_reader(settings):
    read_model.read_orders_current(settings)
    assert read_model.followed_version(settings) is None
    assert gates.results(settings).empty
    assert gates.checked_tables(settings)
    assert _Recorded.keys and set(_Recorded.keys) == {"reader-id"}


def test_the_batch_report_scans_its_sources_as_the_reader(settings, monkeypatch):
    scanned = []
    monkeypatch.setattr(batch_report.pl, "scan_delta", lambda uri, **kw: scanned.append(kw["storage_options"]))
    batch_report.read(settings, {spec.name: 0 for spec in batch_report.SOURCES})
    assert [options["AWS_ACCESS_KEY_ID"] for options in scanned] == ["reader-id"] * len(batch_report.SOURCES)


def test_the_pointer_is_read_as_the_reader_and_written_as_the_writer(monkeypatch):
    opened = []

    class FileSystem:
        def __init__(self, *, access_key, **_):
            opened.append(access_key)

        def open_input_stream(self, path):
            raise FileNotFoundError(path)

    monkeypatch.setattr(storage.pafs, "S3FileSystem", FileSystem)
    settings = config.load("local", env=KEYS)
    assert catalog.read_pointer(settings) is None
    storage.filesystem(catalog.pointer_uri(settings), settings)
    assert opened == ["reader-id", "writer-id"]
