"""One snapshot per read: the run summary, the batch report, a training set and a quality check
each read the version pointer once, so a `switch` during the read cannot mix table versions."""

from __future__ import annotations

import pytest

from lakehouse import config
from lakehouse.lake import catalog, storage, tables
from lakehouse.ml import training
from lakehouse.quality import gates as quality
from lakehouse.query import batch_report, report


@pytest.fixture
def switched(tmp_path, monkeypatch):
    """Empty tables in the base version and in v2, readers pointed at v2; counts pointer reads."""
    settings = config.load("embedded", data_dir=tmp_path)
    storage.ensure_tables(settings)
    storage.ensure_tables(catalog.version_settings(settings, "v2"))
    catalog.switch(settings, "v2")
    reads = []
    real = catalog.read_pointer

    def counted(s):
        reads.append(s)
        return real(s)

    monkeypatch.setattr(catalog, "read_pointer", counted)
    return settings, reads


def test_a_snapshot_keeps_its_locations_and_versions_across_a_switch(switched):
    settings, _ = switched
    snapshot = catalog.snapshot(settings, tables.ALL)
    catalog.switch(settings, catalog.BASE)
    for spec in tables.ALL:
        assert snapshot.location(spec) == f"{settings.logical_tables_uri()}/_v/v2/{spec.path}"
        assert snapshot.version(spec) == 0 == snapshot.open(spec).version()
    assert catalog.resolve(settings, tables.ORDER_EVENTS) == storage.table_uri(settings, tables.ORDER_EVENTS)
    assert "SECRET" not in repr(catalog.Snapshot({}, {}, {"AWS_SECRET_ACCESS_KEY": "SECRET"}))


def test_a_table_missing_from_the_snapshot_is_absent(switched):
    settings, _ = switched
    snapshot = catalog.snapshot(settings, (tables.ORDERS_CURRENT,))
    assert snapshot.version(tables.ORDERS_CURRENT) is None


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda s, tmp: report.summary(s), id="summary"),
        pytest.param(lambda s, tmp: batch_report.run(s, write=False), id="batch report"),
        pytest.param(lambda s, tmp: training.build_training_set(s, tmp / "set"), id="training set"),
        pytest.param(lambda s, tmp: quality.validate(s, tables.METRICS_5M.name), id="quality check"),
    ],
)
def test_each_read_resolves_the_pointer_once(switched, tmp_path, read):
    settings, reads = switched
    read(settings, tmp_path)
    assert len(reads) == 1
