"""The two bug-fix drills of docs/RUNBOOK.md on the local stack (Kafka, S3, Flink cluster).

Compatible fix: the job runs with the wrong currency conversion (LAKEHOUSE_CURRENCY_UDF_VERSION=1),
is stopped with a savepoint mid-stream, and the fixed code restores from it. Every event must be
in silver once, windows before the seam must equal the reference model with the wrong
conversion, windows after it the model with the fix, and the windows across the seam the model
with each order converted by the code that processed it: no gap, no duplicate.
"""

from __future__ import annotations

import time

import pytest

from lakehouse import committer, flink_cluster, generator, rules, tables
from tests.compare import diff, read_rows
from tests.integration.drill_support import (
    DrillRun,
    counts_reached,
    event_ids,
    key_set,
    quiet_seam,
    split_by_arrival,
    wait_until,
)
from tests.reference import Model, ts

pytestmark = pytest.mark.integration

# About 30,000 order events over one hour of event time.
GEN = generator.GeneratorConfig(orders_per_second=2.0)
SEAM_AFTER_MINUTES = 30


def test_compatible_fix_restores_from_a_savepoint_with_no_gap_and_no_duplicate(local_stack):
    run = DrillRun.create("dc")
    buggy = run.with_(currency_udf_version=1)
    fixed = run.with_(currency_udf_version=2)
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

    run.start_committer(run.settings)
    started = time.monotonic()
    try:
        job_id = flink_cluster.submit(buggy, env=run.env(buggy))
        produced = run.produce(before)
        wait_until(
            lambda: silver_before <= set(key_set(run.settings, tables.ORDER_EVENTS)),
            timeout=180,
            what="the events before the seam in silver",
            run=run,
        )
        savepoint = flink_cluster.stop_with_savepoint(run.settings, job_id)
        stopped_at = time.monotonic() - started
        job_id = flink_cluster.submit(fixed, savepoint=savepoint, env=run.env(fixed))
        produced += run.produce(after)
        wait_until(lambda: counts_reached(run.settings, expected), timeout=240, what="every table complete", run=run)
    finally:
        run.cancel_running()
        run.stop_committers()
    run.check()
    committer.commit_pending(run.settings)

    problems = []
    actual = {}
    for spec in tables.ALL:
        actual[spec.name] = read_rows(
            committer.table_uri(run.settings, spec), spec, storage_options=run.settings.storage_options()
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
        f"({len(first_ids):,} events before it), stopped with savepoint {savepoint} after {stopped_at:.0f} s; "
        f"window rows before the seam {sides['before']} (= model with the wrong conversion), across "
        f"{sides['across']} (= per-order model), after {sides['after']} (= model with the fix); tables {expected}"
    )
    assert sides["before"] and sides["after"] and sides["across"]
    assert not problems, "\n".join(problems)
