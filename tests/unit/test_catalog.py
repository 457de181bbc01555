"""Readers follow the table root's version pointer; a switch moves every table at once."""

import pytest
from deltalake import DeltaTable

from lakehouse import config
from lakehouse.lake import catalog, storage, tables


def test_without_a_pointer_readers_use_the_roots_tables(tmp_path):
    settings = config.load("embedded", data_dir=tmp_path)
    assert catalog.current_version(settings) == catalog.BASE
    assert catalog.resolve(settings, tables.METRICS_1M) == f"{tmp_path}/tables/gold/order_metrics_1m"


def test_a_switch_moves_every_table_and_remembers_the_previous_version(tmp_path):
    settings = config.load("embedded", data_dir=tmp_path)
    storage.ensure_tables(settings)
    replay = catalog.version_settings(settings, "v2")
    storage.ensure_tables(replay)

    pointer = catalog.switch(settings, "v2")
    assert pointer["previous"] == catalog.BASE
    for spec in tables.ALL:
        assert catalog.resolve(settings, spec) == f"{tmp_path}/tables/_v/v2/{spec.path}"
        assert DeltaTable(catalog.resolve(settings, spec)).version() == 0
    # A writer with an explicit version never follows the pointer.
    assert storage.table_uri(settings, tables.ORDER_EVENTS) == f"{tmp_path}/tables/silver/order_events"

    back = catalog.switch(settings, catalog.BASE)
    assert back["previous"] == "v2"
    assert catalog.resolve(settings, tables.ORDER_EVENTS) == f"{tmp_path}/tables/silver/order_events"


def test_switching_to_a_version_that_was_never_written_is_refused(tmp_path):
    settings = config.load("embedded", data_dir=tmp_path)
    storage.ensure_tables(settings)
    with pytest.raises(ValueError, match="no Delta table"):
        catalog.switch(settings, "v9")
    assert catalog.current_version(settings) == catalog.BASE


def test_a_derived_table_is_switched_when_the_version_has_it(tmp_path):
    settings = config.load("embedded", data_dir=tmp_path)
    replay = catalog.version_settings(settings, "v2")
    storage.ensure_tables(replay)
    assert tables.ORDERS_CURRENT.name not in catalog.switch(settings, "v2")["tables"]
    storage.ensure_tables(replay, (tables.ORDERS_CURRENT,))
    catalog.switch(settings, "v2")
    assert catalog.resolve(settings, tables.ORDERS_CURRENT) == f"{tmp_path}/tables/_v/v2/{tables.ORDERS_CURRENT.path}"
