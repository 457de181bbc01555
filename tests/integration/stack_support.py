"""What the stack tests share: settings with names of their own on the shared stack, paced
production, waiting for a running job to fill its tables, and the tables compared with the
reference model."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
from botocore.config import Config

from lakehouse import config
from lakehouse.config import Settings
from lakehouse.lake import storage, tables
from lakehouse.pipeline import embedded, flink_cluster
from lakehouse.sources import generator, producer
from tests.compare import diff, read_rows
from tests.reference import Model


def unique_settings(name: str, **overrides) -> Settings:
    """Local-stack settings whose topics, table root and job name belong to this run alone."""
    run = uuid.uuid4().hex[:8]
    names = {"topic_prefix": f"{name}{run}-", "table_root": f"s3://lakehouse/{name}-{run}/tables"}
    return config.load("local", **names, job_name=f"{name}-{run}", **overrides)


def embedded_on_s3(name: str, data_dir: Path) -> Settings:
    """Embedded-pipeline settings writing under a unique prefix of the stack's S3, committing every
    200 ms so that every table gets several versions."""
    return config.load(
        "embedded",
        data_dir=data_dir,
        table_root=f"s3://lakehouse/it-{name}-{uuid.uuid4().hex[:8]}/tables",
        checkpoint_interval_ms=200,
        s3_endpoint=os.environ.get("LAKEHOUSE_S3_ENDPOINT") or os.environ.get("S3_ENDPOINT") or "http://127.0.0.1:8333",
    )


def run_embedded(settings: Settings, gen: generator.GeneratorConfig) -> dict[str, int]:
    """Write ``gen``'s input and run the embedded pipeline on it, polling for commits every second;
    the rows inserted per table."""
    embedded.prepare_input(settings, gen)
    return embedded.run_pipeline(settings, poll_seconds=1.0)


def s3_client(settings: Settings, *, access_key: str, secret_key: str):
    """A boto3 S3 client on the stack's endpoint, signed with the given key pair."""
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=settings.s3_region,
        config=Config(s3={"addressing_style": "path"}),
    )


def produce_paced(settings: Settings, dataset: generator.Dataset, *, events_per_second: float, **options) -> int:
    """Publish ``dataset`` to this run's topics at ``events_per_second``, without progress lines."""
    return producer.produce(
        dataset,
        bootstrap=settings.kafka_bootstrap,
        prefix=settings.topic_prefix,
        events_per_second=events_per_second,
        log=lambda _m: None,
        progress_seconds=3600,
        **options,
    )


def row_counts(settings: Settings) -> dict[str, int]:
    """Rows per table at each table's latest version."""
    return {
        spec.name: len(read_rows(storage.table_uri(settings, spec), spec, storage_options=settings.storage_options()))
        for spec in tables.ALL
    }


def expected_counts(model: Model) -> dict[str, int]:
    return {spec.name: len(model.tables[spec.name]) for spec in tables.ALL}


def wait_for_counts(
    settings: Settings,
    job_id: str,
    expected: dict[str, int],
    *,
    timeout: float,
    context: Callable[[], str] = lambda: "",
) -> dict[str, int]:
    """Poll the tables' row counts until they equal ``expected`` or ``timeout`` passes, asserting
    all along that the job is RUNNING (``context()`` is added to that failure); the last counts."""
    counts: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = row_counts(settings)
        if counts == expected:
            break
        state = flink_cluster.job_state(settings, job_id)
        assert state == "RUNNING", f"job {job_id} is {state}" + context()
        time.sleep(5)
    return counts


def assert_tables_equal_model(settings: Settings, model: Model, *, summary: str = "") -> None:
    """Every table (latest version) equals the reference model; ``summary`` is printed first, so
    a failing run still reports what it did."""
    problems = []
    for spec in tables.ALL:
        rows = read_rows(storage.table_uri(settings, spec), spec, storage_options=settings.storage_options())
        problems += diff(spec, rows, model.tables[spec.name])
    if summary:
        print(summary)
    assert not problems, "\n".join(problems)
