"""The two bug-fix drills of docs/RUNBOOK.md on the local stack (Kafka, S3, Flink cluster).

Each drill first submits the code before its fix: a copy of this checkout with the bug of
tests/drill_bugs.py, submitted from that copy as an operator would have; the fix is this checkout.

Compatible fix: the job runs with the wrong currency conversion (drill_bugs.CURRENCY), is
stopped with a savepoint mid-stream, and the fixed code restores from it. Every event must be
in silver once, windows before the seam must equal the reference model with the wrong
conversion, windows after it the model with the fix, and the windows across the seam the model
with each order converted by the code that processed it: no gap, no duplicate.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lakehouse import rules
from lakehouse.lake import catalog, storage, tables
from lakehouse.pipeline import fingerprint, flink_cluster
from lakehouse.sources import generator
from tests import drill_bugs
from tests.compare import diff, read_rows
from tests.integration.drill_support import (
    DrillRun,
    counts,
    event_ids,
    quiet_seam,
    split_by_arrival,
    submitted_job_id,
    wait_for_silver,
    wait_for_tables,
)
from tests.reference import Model, ts

pytestmark = pytest.mark.integration

# About 34,000 order events over one hour of event time.
GEN = generator.GeneratorConfig(orders_per_second=2.0)
SEAM_AFTER_MINUTES = 30


def test_compatible_fix_restores_from_a_savepoint_with_no_gap_and_no_duplicate(local_stack, tmp_path):
    run = DrillRun.create("dc")
    buggy_code = drill_bugs.checkout(drill_bugs.CURRENCY, tmp_path / "before-the-fix")
    dataset = generator.generate(GEN)
    seam_ms = quiet_seam(dataset, after_ms=GEN.start_ms + SEAM_AFTER_MINUTES * 60_000)
    before, after = split_by_arrival(dataset, seam_ms)
    first_ids = event_ids(before)
    rule_set = rules.load(run.settings.rules_file)
    model = Model(dataset, rule_set, currency_version=lambda e: 1 if e["event_id"] in first_ids else 2)
    model_buggy = Model(dataset, rule_set, currency_version=1)
    model_fixed = Model(dataset, rule_set, currency_version=2)
    expected = {spec.name: len(model.tables[spec.name]) for spec in tables.ALL}
    silver_before = {k for k in model.tables[tables.ORDER_EVENTS.name] if k[0] in first_ids}

    run.prepare_tables(run.settings)
    timings = {}
    started = time.monotonic()
    try:
        job_id = _submit_buggy(run, buggy_code)
        produced = run.produce(before)
        wait_for_silver(run, run.settings, silver_before, timeout=180)
        # The job's sinks commit the savepoint's files when it completes; the restored job finds
        # them committed (their transaction ids are in the log) and commits them no second time.
        savepoint, recorded = fingerprint.stop_with_savepoint(run.settings, job_id)
        assert recorded, "the job recorded no state fingerprint"
        _progress(timings, "stopped with savepoint", started)
        # The operator's command: the pre-flight check passes (same state layout), then flink run -s.
        submitted = run.cli("submit", "--from-savepoint", savepoint)
        assert submitted.returncode == 0, submitted.stdout[-3000:] + submitted.stderr[-3000:]
        assert "matches the savepoint's" in submitted.stdout
        job_id = submitted_job_id(submitted.stdout)
        produced += run.produce(after)
        _progress(timings, "restored", started)
        wait_for_tables(run, run.settings, expected, timeout=180, fail=False)
        _progress(timings, "complete", started)
        print(f"counts {counts(run.settings)}, expected {expected}", flush=True)
    finally:
        run.cancel_running()
    run.check()

    problems = []
    actual = {}
    for spec in tables.ALL:
        actual[spec.name] = read_rows(
            storage.table_uri(run.settings, spec), spec, storage_options=run.settings.storage_options()
        )
        problems += diff(spec, actual[spec.name], model.tables[spec.name])

    # The seam in event time: orders before it were all converted by the wrong code, after it all
    # by the fix; windows in between hold both.
    placed = tables.ORDERS_ENRICHED.name
    first_end = max(r["event_time"] for k, r in model.tables[placed].items() if k[0] in first_ids)
    second_start = min(r["event_time"] for k, r in model.tables[placed].items() if k[0] not in first_ids)
    sides = {"before": 0, "across": 0, "after": 0}
    for spec in (tables.METRICS_1M, tables.METRICS_5M, tables.METRICS_1H):
        for row in actual[spec.name]:
            key = tuple(row[k] for k in spec.key)
            if row["window_end"] <= second_start:
                sides["before"] += 1
                reference = model_buggy
            elif row["window_start"] > first_end:
                sides["after"] += 1
                reference = model_fixed
            else:
                sides["across"] += 1
                continue
            problems += diff(spec, [row], {key: reference.tables[spec.name][key]})
    print(
        f"compatible fix: {produced:,} events produced, seam at arrival {ts(seam_ms):%H:%M:%S} "
        f"({len(first_ids):,} events before it), stopped with savepoint {savepoint}; timings (s) {_rounded(timings)}; "
        f"window rows before the seam {sides['before']} (= model with the wrong conversion), across "
        f"{sides['across']} (= per-order model), after {sides['after']} (= model with the fix); tables {expected}"
    )
    assert sides["before"] and sides["after"] and sides["across"]
    assert not problems, "\n".join(problems)


def test_incompatible_fix_is_refused_before_restore_then_replayed_and_readers_switched(local_stack, tmp_path):
    run = DrillRun.create("di")
    buggy_code = drill_bugs.checkout(drill_bugs.METRICS, tmp_path / "before-the-fix")
    buggy = fixed = run.settings  # the same settings: the code differs
    replay = run.with_(table_version="v2", job_name=f"{run.settings.job_name}-v2")
    # The buggy job reads events as they are produced; the replay reads all of Kafka flat out as a
    # backlog. Both must call the same events late: the generator's truth (docs/DESIGN.md, "Lateness").
    dataset = generator.generate(GEN)
    rule_set = rules.load(run.settings.rules_file)
    model_buggy = Model(dataset, rule_set, metrics_version=1)
    model_fixed = Model(dataset, rule_set, metrics_version=2)
    expected = {spec.name: len(model_fixed.tables[spec.name]) for spec in tables.ALL}
    assert expected == {spec.name: len(model_buggy.tables[spec.name]) for spec in tables.ALL}
    assert expected[tables.LATE_EVENTS.name] > 0

    run.prepare_tables(buggy)
    timings = {}
    started = time.monotonic()
    try:
        job_id = _submit_buggy(run, buggy_code)
        produced = run.produce(dataset)
        wait_for_tables(run, buggy, expected, timeout=240, what="the buggy job's tables")
        _progress(timings, "buggy job complete", started)
        savepoint, recorded = fingerprint.stop_with_savepoint(buggy, job_id)
        assert recorded

        # The operator deploys the fix and asks for a restore: refused before anything is submitted.
        jobs_before = {j["id"] for j in flink_cluster.list_jobs(run.settings)}
        refused = run.cli("submit", "--from-savepoint", savepoint, settings=fixed)
        _progress(timings, "pre-flight refusal", started)
        assert refused.returncode == 3, refused.stdout[-3000:] + refused.stderr[-3000:]
        assert "refusing to restore" in refused.stderr and "window-aggregate" in refused.stderr
        assert "python -m lakehouse replay --table-version v2" in refused.stderr
        assert {j["id"] for j in flink_cluster.list_jobs(run.settings)} == jobs_before

        # What the check prevents: Flink itself cannot restore this state into the fixed plan.
        forced = run.cli("submit", "--from-savepoint", savepoint, "--skip-state-check", settings=fixed)
        assert forced.returncode == 0, forced.stdout[-3000:] + forced.stderr[-3000:]
        forced_id = submitted_job_id(forced.stdout)
        restore_failure = _restore_failure(run, forced_id)
        flink_cluster.cancel(run.settings, forced_id)

        # Replay from Kafka's earliest offsets into version v2, then switch readers.
        replayed = run.cli("replay", "--table-version", "v2", settings=fixed)
        assert replayed.returncode == 0, replayed.stdout[-3000:] + replayed.stderr[-3000:]
        replay_id = submitted_job_id(replayed.stdout)
        run.prepare_tables(replay)
        assert catalog.resolve(run.settings, tables.METRICS_5M) == storage.table_uri(buggy, tables.METRICS_5M)
        wait_for_tables(run, replay, expected, timeout=180, what="the replayed tables")
        _progress(timings, "replay complete", started)
        assert flink_cluster.job_state(run.settings, replay_id) == "RUNNING"
        switched = run.cli("switch", "v2", settings=run.settings)
        assert switched.returncode == 0, switched.stdout[-3000:] + switched.stderr[-3000:]
    finally:
        run.cancel_running()
    run.check()

    problems, corrected = [], 0
    for spec in tables.ALL:
        old = read_rows(storage.table_uri(buggy, spec), spec, storage_options=run.settings.storage_options())
        problems += [f"before the fix: {p}" for p in diff(spec, old, model_buggy.tables[spec.name])]
        location = catalog.resolve(run.settings, spec)
        assert location == storage.table_uri(replay, spec)
        new = read_rows(location, spec, storage_options=run.settings.storage_options())
        problems += [f"after the switch: {p}" for p in diff(spec, new, model_fixed.tables[spec.name])]
        old_by_key = {tuple(r[k] for k in spec.key): r for r in old}
        corrected += sum(1 for r in new if old_by_key.get(tuple(r[k] for k in spec.key)) != r)
    print(
        f"incompatible fix: {produced:,} events; savepoint {savepoint} refused by the pre-flight check; "
        f"forced restore failed with: {restore_failure}; replayed into v2 and switched readers; "
        f"{corrected} rows differ between the buggy and the replayed tables; timings (s) "
        f"{_rounded(timings)}; tables {expected}"
    )
    assert corrected > 0
    assert not problems, "\n".join(problems)


def _submit_buggy(run: DrillRun, code: Path) -> str:
    """Submit the job from the checkout with the bug, as before the fix, with that checkout's release.

    Not `--no-package`: its Python workers start in the TaskManager's working directory, which on
    the local stack is this checkout, so they would import this checkout's (fixed) modules ahead of
    the shipped code zip. A release's workers start in their own unpacked environment."""
    submitted = run.cli("submit", code=code)
    assert submitted.returncode == 0, submitted.stdout[-3000:] + submitted.stderr[-3000:]
    return submitted_job_id(submitted.stdout + submitted.stderr)


def _progress(timings: dict[str, float], step: str, started: float) -> None:
    timings[step] = time.monotonic() - started
    print(f"{step} after {timings[step]:.0f} s", flush=True)


def _rounded(timings: dict[str, float]) -> dict[str, int]:
    return {k: round(v) for k, v in timings.items()}


def _restore_failure(run: DrillRun, job_id: str, *, timeout: float = 120) -> str:
    """Wait for the forced restore to fail; return the name of the exception Flink reports."""
    markers = ("StateMigrationException", "Cannot map", "Failed to rollback", "incompatible")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = flink_cluster.job_exceptions(run.settings, job_id)
        found = [m for m in markers if m in text]
        if found:
            return ", ".join(found)
        time.sleep(3)
    raise AssertionError(f"the forced restore of {job_id} did not fail within {timeout:.0f}s: the check was too strict")
