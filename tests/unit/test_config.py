from pathlib import Path

import pytest

from lakehouse import config


def test_embedded_is_the_default_and_writes_to_local_disk(monkeypatch, tmp_path):
    monkeypatch.delenv("LAKEHOUSE_PROFILE", raising=False)
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    settings = config.load()
    assert settings.profile == "embedded"
    assert settings.tables_uri() == str(tmp_path / "tables")
    assert settings.storage_options() == {}


def test_environment_overrides_are_typed(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_PARALLELISM", "2")
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", "/tmp/somewhere")
    settings = config.load("embedded")
    assert settings.parallelism == 2
    assert settings.data_dir == Path("/tmp/somewhere")


def test_local_profile_targets_s3_with_path_style_and_keys_from_the_environment(monkeypatch):
    monkeypatch.setenv("S3_WRITER_ACCESS_KEY", "writer-id")
    monkeypatch.setenv("S3_WRITER_SECRET_KEY", "writer-secret-value")
    settings = config.load("local")
    assert settings.tables_uri() == "s3://lakehouse/tables"
    options = settings.storage_options()
    assert options["AWS_S3_ADDRESSING_STYLE"] == "path"
    assert options["AWS_ACCESS_KEY_ID"] == "writer-id"
    assert "writer-secret-value" not in repr(settings)


def test_an_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="unknown profile"):
        config.load("staging")


def test_a_table_version_moves_writers_below_the_root_and_keeps_the_readers_root(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_TABLE_VERSION", "v2")
    monkeypatch.setenv("LAKEHOUSE_CHECKPOINT_INTERVAL_MS", "3000")
    settings = config.load("local")
    assert settings.logical_tables_uri() == "s3://lakehouse/tables"
    assert settings.tables_uri() == "s3://lakehouse/tables/_v/v2"
    assert settings.checkpoint_interval_ms == 3000


def test_a_table_version_must_be_a_plain_name():
    with pytest.raises(ValueError, match="plain name"):
        config.load("local", table_version="a/b").tables_uri()


def test_order_source_options_override_and_remove_kafka_options(monkeypatch):
    from jobs import orders_pipeline

    monkeypatch.setenv(
        "LAKEHOUSE_ORDER_SOURCE_OPTIONS",
        "scan.watermark.emit.strategy=on-event; scan.startup.mode= ;properties.fetch.min.bytes=1",
    )
    options = orders_pipeline.source_options(config.load("local"))
    orders = options["src_order_events"]
    assert orders["scan.watermark.emit.strategy"] == "on-event"
    assert "scan.startup.mode" not in orders and "scan.startup.mode" in options["src_customers"]
    assert orders["properties.fetch.min.bytes"] == "1"
    assert orders["topic"] == "order-events" and orders["connector"] == "kafka"
    assert "properties.fetch.min.bytes" not in options["src_customers"]


def test_dimension_source_options_apply_to_both_cdc_sources(monkeypatch):
    from jobs import orders_pipeline

    monkeypatch.setenv("LAKEHOUSE_DIMENSION_SOURCE_OPTIONS", "scan.watermark.idle-timeout=2 s")
    options = orders_pipeline.source_options(config.load("local"))
    assert options["src_customers"]["scan.watermark.idle-timeout"] == "2 s"
    assert options["src_products"]["scan.watermark.idle-timeout"] == "2 s"
    assert "scan.watermark.idle-timeout" not in options["src_order_events"]


def test_a_malformed_order_source_option_is_refused(monkeypatch):
    from jobs import orders_pipeline

    monkeypatch.setenv("LAKEHOUSE_ORDER_SOURCE_OPTIONS", "scan.watermark.emit.strategy")
    with pytest.raises(ValueError, match="source options: .* is not key=value"):
        orders_pipeline.source_options(config.load("local"))


def test_outputs_select_the_tables_a_job_writes_and_reject_unknown_names():
    from jobs.orders_pipeline import _selected

    outputs = {"silver.order_events": "s", "gold.anomalies": "a"}
    assert _selected(outputs, "") == outputs
    assert _selected(outputs, " gold.anomalies ") == {"gold.anomalies": "a"}
    assert _selected(outputs, "staging,silver.order_events") == {"silver.order_events": "s", "staging": None}
    with pytest.raises(ValueError, match="unknown outputs"):
        _selected(outputs, "gold.anomalie")
