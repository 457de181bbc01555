from dataclasses import fields
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


def test_settings_are_grouped_by_concern():
    settings = config.load("local", env={})
    assert isinstance(settings, config.JobSettings)
    assert isinstance(settings, config.KafkaSettings)
    assert isinstance(settings, config.StorageSettings)
    job = {f.name for f in fields(config.JobSettings)}
    kafka = {f.name for f in fields(config.KafkaSettings)}
    storage = {f.name for f in fields(config.StorageSettings)}
    assert not (job & kafka or job & storage or kafka & storage)
    assert {f.name for f in fields(config.Settings)} == job | kafka | storage | {"profile"}


def test_load_reads_the_mapping_it_is_given_and_not_the_process_environment(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_PARALLELISM", "7")
    settings = config.load(env={"LAKEHOUSE_PROFILE": "local", "LAKEHOUSE_TOPIC_PREFIX": "t-"})
    assert (settings.profile, settings.parallelism, settings.topic_prefix) == ("local", 2, "t-")


KEYS = {
    "S3_WRITER_ACCESS_KEY": "writer-id",
    "S3_WRITER_SECRET_KEY": "writer-secret",
    "S3_READER_ACCESS_KEY": "reader-id",
    "S3_READER_SECRET_KEY": "reader-secret",
}


@pytest.mark.parametrize(
    "profile, overrides",
    [
        ("embedded", {}),
        ("embedded", {"data_dir": "/tmp/lake-data", "serving_topics": True, "jvm_heap": "2g"}),
        (
            "local",
            {
                "topic_prefix": "run1-",
                "table_root": "s3://lakehouse/it/tables",
                "table_version": "v3",
                "parallelism": 1,  # below the profile's 2
                "checkpoint_interval_ms": 1500,
                "max_record_bytes": 4096,
                "sink_mode": "blackhole",
                "outputs": "staging",
                "order_source_options": "scan.startup.mode=latest-offset",
                "s3_endpoint": "http://127.0.0.1:8733",
                "rules_file": "/etc/lakehouse/rules.toml",
            },
        ),
        ("production", {"kafka_bootstrap": "kafka:9092", "job_jars": "/opt/a.jar;/opt/b.jar"}),
    ],
)
def test_the_job_environment_round_trips_through_load(profile, overrides):
    settings = config.load(profile, env=KEYS, **overrides)
    mapping = config.job_environment(settings)
    assert all(isinstance(v, str) for v in mapping.values())
    assert not set(mapping.values()) & set(KEYS.values()), "keys travel in the environment, not the mapping"
    assert config.load(env=mapping | KEYS) == settings
    keyless = config.load(profile, env={}, **overrides)
    assert config.load(env=config.job_environment(keyless)) == keyless


def test_the_job_environment_replaces_inherited_settings_and_keeps_the_rest():
    settings = config.load("local", env={}, parallelism=2, topic_prefix="p-")
    inherited = {"LAKEHOUSE_PARALLELISM": "8", "LAKEHOUSE_OUTPUTS": "staging", "PATH": "/usr/bin"} | KEYS
    mapping = config.job_environment(settings, inherit=inherited)
    assert mapping["PATH"] == "/usr/bin" and mapping["LAKEHOUSE_PARALLELISM"] == "2"
    assert "LAKEHOUSE_OUTPUTS" not in mapping
    assert config.load(env=mapping) == config.load("local", env=KEYS, parallelism=2, topic_prefix="p-")


def test_paths_left_at_their_defaults_resolve_where_the_job_runs():
    mapping = config.job_environment(config.load("local", env={}))
    assert "LAKEHOUSE_RULES_FILE" not in mapping and "LAKEHOUSE_DATA_DIR" not in mapping
    moved = config.job_environment(config.load("local", env={}, rules_file="/etc/rules.toml"))
    assert moved["LAKEHOUSE_RULES_FILE"] == "/etc/rules.toml"


def test_readers_get_the_read_only_identity_and_writers_the_writer():
    env = {
        "S3_WRITER_ACCESS_KEY": "writer-id",
        "S3_WRITER_SECRET_KEY": "writer-secret-value",
        "S3_READER_ACCESS_KEY": "reader-id",
        "S3_READER_SECRET_KEY": "reader-secret-value",
    }
    settings = config.load("local", env=env)
    assert settings.reader_storage_options()["AWS_ACCESS_KEY_ID"] == "reader-id"
    assert settings.reader_storage_options()["AWS_SECRET_ACCESS_KEY"] == "reader-secret-value"
    assert settings.storage_options()["AWS_ACCESS_KEY_ID"] == "writer-id"
    assert {k: v for k, v in settings.reader_storage_options().items() if not k.startswith("AWS_SECRET")} | {
        "AWS_ACCESS_KEY_ID": "writer-id"
    } == {k: v for k, v in settings.storage_options().items() if not k.startswith("AWS_SECRET")}
    for secret in ("writer-secret-value", "reader-secret-value", "reader-id"):
        assert secret not in repr(settings) and secret not in repr(settings.reader)


def test_without_reader_keys_readers_fall_back_to_the_writer_and_local_disk_needs_none(tmp_path):
    settings = config.load("local", env={"S3_WRITER_ACCESS_KEY": "w", "S3_WRITER_SECRET_KEY": "ws"})
    assert settings.reader_storage_options() == settings.storage_options()
    assert config.load("embedded", env={}, data_dir=tmp_path).reader_storage_options() == {}


def test_submission_hands_the_job_its_settings_and_keeps_the_keys_of_the_environment(monkeypatch):
    import subprocess

    from lakehouse.pipeline import application, flink_cluster

    ran = []

    def run(command, *, env, **_):
        ran.append(env)
        return subprocess.CompletedProcess(command, 1, stdout="", stderr="")

    monkeypatch.setattr(flink_cluster.subprocess, "run", run)
    monkeypatch.setattr(flink_cluster, "run_command", lambda settings, **_: ["flink", "run"])
    for name, value in {**KEYS, "LAKEHOUSE_OUTPUTS": "staging", "LAKEHOUSE_PARALLELISM": "8"}.items():
        monkeypatch.setenv(name, value)
    settings = config.load("local", env={}, parallelism=3, topic_prefix="t-")
    application._flink_sh("app-start", env=config.job_environment(settings))
    with pytest.raises(RuntimeError, match="flink run failed"):
        flink_cluster.submit(settings)
    assert len(ran) == 2
    for env in ran:
        assert env["S3_WRITER_ACCESS_KEY"] == "writer-id" and env["LAKEHOUSE_PARALLELISM"] == "3"
        assert "LAKEHOUSE_OUTPUTS" not in env and env["LAKEHOUSE_TOPIC_PREFIX"] == "t-"


def test_trino_settings_come_from_the_stacks_variables():
    trino = config.TrinoSettings.from_env({"TRINO_HTTP_PORT": "8480", "LAKEHOUSE_TRINO_USER": "analyst"})
    assert (trino.url, trino.user, trino.catalog) == ("http://127.0.0.1:8480", "analyst", "delta")
    assert config.TrinoSettings.from_env({}) == config.TrinoSettings()
