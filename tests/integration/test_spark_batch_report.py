"""`lakehouse batch-report --engine spark`: the daily report on pyspark + delta-spark equals the polars
report row for row at the same pinned Delta versions, on the pipeline's tables in S3.

The embedded pipeline writes the tables under a unique S3 prefix of the local stack (commits every
200 ms, so every table has several versions); Spark reads them through s3a at pinned versions.
Compared: Spark = polars at the latest versions and at version 1 (time travel), both = the report
computed from the reference model; then the command line on Spark writes gold.daily_report, and
polars at the same versions finds it already written (the engines share one table).

26 hours of event time at 0.05 orders/s (two days for a daily report), about two minutes of
pipeline; each Spark session adds its JVM start and jar resolution (cached in ~/.cache/lakehouse/ivy).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from bench import spark as spark_extra
from lakehouse import config, rules
from lakehouse.lake import storage
from lakehouse.query import batch_report
from lakehouse.sources import generator
from tests.integration.stack_support import embedded_on_s3, run_embedded
from tests.reference import Model
from tests.reference_reports import compare_ordered as _compare
from tests.reference_reports import expected_daily_report

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GEN = generator.GeneratorConfig(minutes=26 * 60, orders_per_second=0.05)
KEY = batch_report.DAILY_REPORT.key


@pytest.fixture(scope="module")
def settings(local_stack, tmp_path_factory) -> config.Settings:
    spark_extra.ensure_installed(log=print)
    return embedded_on_s3("spark-report", tmp_path_factory.mktemp("spark-report"))


@pytest.fixture(scope="module")
def model(settings) -> Model:
    return Model(generator.generate(GEN), rules.load(settings.rules_file))


@pytest.fixture(scope="module")
def latest(settings) -> dict[str, int]:
    inserted = run_embedded(settings, GEN)
    assert inserted["silver.orders_enriched"] > 0
    return batch_report.latest_versions(settings)


def test_spark_report_equals_polars_report_and_the_model_at_the_latest_versions(settings, model, latest):
    on_polars = batch_report.run(settings, latest, write=False)
    on_spark = batch_report.run(settings, latest, write=False, engine="spark")
    assert on_spark.source_versions == on_polars.source_versions == latest
    assert on_spark.report.schema == on_polars.report.schema
    problems = _compare("spark vs polars", on_spark.report.to_dicts(), on_polars.report.to_dicts(), KEY)
    problems += _compare("spark vs reference", on_spark.report.to_dicts(), expected_daily_report(model), KEY)
    assert not problems, "\n".join(problems)
    assert len({row["day"] for row in on_spark.report.to_dicts()}) == 2


def test_spark_reads_the_pinned_older_versions(settings, latest):
    older = {name: 1 for name in latest}  # the first commit with rows
    assert older != latest, "the pipeline made several commits per table"
    on_polars = batch_report.run(settings, older, write=False)
    on_spark = batch_report.run(settings, older, write=False, engine="spark")
    assert on_spark.report.height > 0
    problems = _compare("spark vs polars @v1", on_spark.report.to_dicts(), on_polars.report.to_dicts(), KEY)
    assert not problems, "\n".join(problems)
    everything = batch_report.run(settings, latest, write=False)
    assert sum(on_spark.report["orders"]) < sum(everything.report["orders"]), "version 1 holds fewer orders"


def test_command_line_on_spark_writes_the_report_polars_then_skips_it(settings, latest):
    env = {
        **os.environ,
        "LAKEHOUSE_PROFILE": "embedded",
        "LAKEHOUSE_DATA_DIR": str(settings.data_dir),
        "LAKEHOUSE_TABLE_ROOT": settings.table_root,
        "LAKEHOUSE_S3_ENDPOINT": settings.s3_endpoint,
    }
    done = subprocess.run(
        [sys.executable, "-m", "lakehouse", "batch-report", "--engine", "spark"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "with spark; wrote gold.daily_report version 0" in done.stdout, done.stdout[-2000:]
    uri = storage.table_uri(settings, batch_report.DAILY_REPORT)
    written = DeltaTable(uri, storage_options=settings.storage_options()).to_pyarrow_table().to_pylist()
    on_polars = batch_report.run(settings, latest, write=False)
    written.sort(key=lambda row: (row["day"], row["region"]))
    assert not _compare("written by spark vs polars", written, on_polars.report.to_dicts(), KEY)
    assert batch_report.source_versions_of(settings) == latest
    assert batch_report.run(settings, latest).version is None, "polars finds the report of these versions written"
