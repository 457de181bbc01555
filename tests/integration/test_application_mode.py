"""The pipeline as a Flink application cluster (`lakehouse app`: Flink's standalone application
mode, what the Kubernetes operator runs), from the release archive: started on the first part of
the input, stopped with a savepoint, more input produced while no cluster runs, then a new
application cluster restored from that savepoint. Every table must equal the reference model.

The application cluster runs beside the stack's session cluster, on its own JobManager ports
(FLINK_APP_REST_PORT, FLINK_APP_JM_RPC_PORT of infra/stack.env); its JobManager runs the job's
Python driver with the release's interpreter, and the job's workers the release's environment.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from lakehouse import rules
from lakehouse.lake import tables
from lakehouse.pipeline import application, flink_cluster
from lakehouse.sources import generator
from tests.integration import drill_support as drill
from tests.integration.stack_support import assert_tables_equal_model, expected_counts
from tests.reference import Model

pytestmark = pytest.mark.integration

# About 34,000 order events over one hour of event time (the bug-fix drills' input).
GEN = generator.GeneratorConfig(orders_per_second=2.0)
SEAM_AFTER_MINUTES = 25
PARALLELISM = 1


def _rest_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def test_an_application_cluster_stops_with_a_savepoint_and_a_new_one_restores_it(local_stack):
    run = drill.DrillRun.create("app")
    settings = run.with_(parallelism=PARALLELISM)
    dataset = generator.generate(GEN)
    seam_ms = drill.quiet_seam(dataset, after_ms=GEN.start_ms + SEAM_AFTER_MINUTES * 60_000)
    before, after = drill.split_by_arrival(dataset, seam_ms)
    rule_set = rules.load(settings.rules_file)
    model = Model(dataset, rule_set)
    silver_before = set(Model(before, rule_set).tables[tables.ORDER_EVENTS.name])
    expected = expected_counts(model)
    app_rest = application.rest_url()
    assert app_rest != settings.flink_rest, "the application cluster must not take the session cluster's port"

    timings: dict[str, float] = {}
    started = time.monotonic()
    savepoint = None
    try:
        produced = run.produce(before)
        first = run.cli("app", "start", "--parallelism", str(PARALLELISM), settings=settings)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:] + application.jobmanager_log()[-3000:]
        timings["first cluster running"] = time.monotonic() - started
        app = run.with_(flink_rest=app_rest)
        first_job = flink_cluster.list_jobs(app)[0]["id"]
        # The session cluster runs nothing of this test: the job is the application cluster's.
        assert not [j for j in flink_cluster.list_jobs(settings) if j["name"] == settings.job_name]
        drill.wait_for_silver(run, settings, silver_before, timeout=600)
        stopped = run.cli("app", "stop", settings=settings)
        assert stopped.returncode == 0, stopped.stdout[-3000:] + stopped.stderr[-3000:]
        savepoint = stopped.stdout.strip().rsplit(" ", 1)[-1]
        assert savepoint.startswith("s3://"), stopped.stdout
        timings["stopped with savepoint"] = time.monotonic() - started
        code, report = application.status()
        assert code == 3, f"the application cluster did not shut down after its job stopped:\n{report}"

        # More input while no cluster runs; the restored job reads it from its savepoint's offsets.
        produced += run.produce(after)
        second = run.cli(
            "app", "start", "--parallelism", str(PARALLELISM), "--from-savepoint", savepoint, settings=settings
        )
        assert second.returncode == 0, (
            second.stdout[-3000:] + second.stderr[-3000:] + application.jobmanager_log()[-3000:]
        )
        assert "matches the savepoint's" in second.stdout, second.stdout[-3000:]
        timings["second cluster running"] = time.monotonic() - started
        second_job = flink_cluster.list_jobs(app)[0]["id"]
        assert second_job != first_job
        restored = _rest_json(f"{app_rest}/jobs/{second_job}/checkpoints")["latest"]["restored"]
        assert restored and restored["external_path"].rstrip("/") == savepoint.rstrip("/"), restored
        drill.wait_for_tables(run, settings, expected, timeout=600, fail=False)
        timings["complete"] = time.monotonic() - started
        job = flink_cluster.job_details(app, second_job)
        assert job["state"] == "RUNNING" and {v["parallelism"] for v in job["vertices"]} == {PARALLELISM}
    finally:
        application.stop(settings, savepoint=False)
    code, report = application.status()
    assert code == 3, report

    assert_tables_equal_model(
        settings,
        model,
        summary=f"application mode: {produced:,} events produced, {len(silver_before):,} silver rows before the "
        f"seam, savepoint {savepoint}; timings (s) { {k: round(v) for k, v in timings.items()} }; "
        f"tables {drill.counts(settings)} (model {expected})",
    )
