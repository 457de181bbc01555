"""`lakehouse submit` ships the job with its release archive (`lakehouse package`), and a
TaskManager that cannot reach the project's venv runs it: its own user (nobody), an empty
environment, its own copy of Flink. Every table must equal the reference model.

The stack's TaskManagers step aside for the run and come back after it, so every task, and every
Python worker, runs in the isolated TaskManager, on the Python environment that came with the job
(-pyarch). The same command without the archive (`--no-package`) names the venv's interpreter,
which that TaskManager cannot run: the test shows that too, so the first result is the archive's doing.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from lakehouse import config, rules
from lakehouse.pipeline import flink_cluster, release
from lakehouse.sources import generator, producer
from tests.integration.drill_support import submitted_job_id
from tests.integration.isolated_tm import IsolatedTaskManager, taskmanagers
from tests.integration.stack_support import (
    assert_tables_equal_model,
    expected_counts,
    produce_paced,
    unique_settings,
    wait_for_counts,
)
from tests.reference import Model

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# The input of tests/integration/test_local_stack.py: about 68,000 events over one hour of event
# time, produced while the job runs. (A shorter input leaves the 1-hour window open: in its sparse
# tail a Kafka partition runs dry and holds the watermark back.)
GEN = generator.GeneratorConfig(orders_per_second=4.0)
DEADLINE_SECONDS = 900
PRODUCE_RATE = 1_500


def _submit(settings: config.Settings, *extra: str) -> subprocess.CompletedProcess:
    env = {
        **flink_cluster.clean_environment(),
        "LAKEHOUSE_TOPIC_PREFIX": settings.topic_prefix,
        "LAKEHOUSE_TABLE_ROOT": settings.table_root,
        "LAKEHOUSE_JOB_NAME": settings.job_name,
    }
    return subprocess.run(
        [sys.executable, "-m", "lakehouse", "submit", "--profile", "local", *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.fixture(scope="module")
def isolated(local_stack):
    settings = config.load("local")
    taskmanager = IsolatedTaskManager(settings.flink_rest)
    try:
        taskmanager.start()
        yield taskmanager
    finally:
        taskmanager.stop()


@pytest.fixture(scope="module")
def packaged_run(isolated):
    settings = unique_settings("it-pkg")
    dataset = generator.generate(GEN)
    model = Model(dataset, rules.load(settings.rules_file))
    producer.ensure_topics(settings.kafka_bootstrap, settings.topic_prefix)
    started = time.monotonic()
    submitted = _submit(settings)
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    submit_seconds = time.monotonic() - started
    job_id = submitted_job_id(submitted.stdout + submitted.stderr)
    try:
        flink_cluster.wait_all_tasks_running(settings, job_id, timeout=600)
        assert [tm["id"] for tm in taskmanagers(settings.flink_rest)] == [isolated.resource_id]
        produce_paced(settings, dataset, events_per_second=PRODUCE_RATE)
        counts = wait_for_counts(
            settings,
            job_id,
            expected_counts(model),
            timeout=DEADLINE_SECONDS,
            context=lambda: f":\n{isolated.console()[-3000:]}",
        )
    finally:
        flink_cluster.cancel(settings, job_id)
    print(f"submit with the release took {submit_seconds:.0f}s; table rows {counts}")
    return settings, model, job_id


def test_the_isolated_taskmanager_runs_the_packaged_job_and_the_tables_equal_the_model(packaged_run, isolated):
    settings, model, _job_id = packaged_run
    assert_tables_equal_model(settings, model)


def test_without_the_archive_the_isolated_taskmanager_cannot_run_the_job(packaged_run, isolated):
    settings = unique_settings("it-pkg")
    producer.ensure_topics(settings.kafka_bootstrap, settings.topic_prefix)
    submitted = _submit(settings, "--no-package")
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    job_id = submitted_job_id(submitted.stdout + submitted.stderr)
    try:
        deadline = time.monotonic() + 300
        exceptions = ""
        while time.monotonic() < deadline and sys.executable not in exceptions:
            exceptions = flink_cluster.job_exceptions(settings, job_id)
            time.sleep(3)
    finally:
        flink_cluster.cancel(settings, job_id)
    # The workers were told to run the venv's interpreter, which user nobody cannot reach.
    assert sys.executable in exceptions, exceptions[-3000:]
    assert "Cannot run program" in exceptions or "Permission denied" in exceptions, exceptions[-3000:]


def test_the_archive_holds_what_the_readme_says(packaged_run):
    built = release.current(log=lambda _m: None)
    manifest = built.manifest
    assert set(manifest["files"]) >= {"python_env", "code", "job", "jars", "cluster_lib", "cluster_plugins"}
    assert {Path(jar).name for jar in manifest["files"]["jars"]} == {
        "lakehouse-udfs.jar",
        "lakehouse-delta-connector.jar",
    }
    assert "apache-flink" in manifest["python"]["distributions"]
    assert "great-expectations" not in manifest["python"]["distributions"], "only what the job needs"
