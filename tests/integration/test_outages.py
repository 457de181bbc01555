"""Outages of the services the job depends on: the S3 server stopped for 60 s and Kafka for 30 s
while events flow, each restarted with the project's own scripts (infra/s3/s3.sh, infra/kafka/kafka.sh).

Nobody steps in: Flink fails the job over while S3 is gone (its checkpoints and the Delta sinks'
files and commits live there) and restores it from its last checkpoint once S3 answers again,
after backing off; the Kafka source and the producer wait for the broker. At the end the same job
must be running, every service of the stack must be healthy, and every table must equal the
reference model.

Kafka goes down 40 s into the S3 outage and comes back 10 s after S3 does, so the job's restore
meets a broker that is still away. The input has no late events: this test is about outages
(lateness on a backlog and on a replay is what test_local_stack and the drills check).

The dimension topics' idle timeout is raised above the Kafka outage, as docs/CDC.md ("Latency and
idle dimensions") tells an operator who wants exact enrichment through outages: with the default
30 s, a change topic unreachable for longer is declared idle, the orders' watermark alone moves the
temporal join on, and the orders of the outage are enriched with the versions known before it
(a run with a 48 s Kafka outage enriched 38 orders so). The test checks that its outage stayed
shorter than that timeout.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from lakehouse import rules
from lakehouse.lake import storage, tables
from lakehouse.pipeline import flink_cluster
from lakehouse.sources import generator, producer
from tests.compare import diff, read_rows
from tests.integration.drill_support import DrillRun, counts, split_by_arrival, wait_for_tables, wait_until
from tests.reference import Model

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# About 34,000 order events over one hour of event time. The first 20 minutes go before the
# outages; the rest (about 23,000) is produced at PRODUCE_RATE from the first outage on, so
# production lasts well beyond the outages however long the job took to start.
GEN = generator.GeneratorConfig(orders_per_second=2.0, late_ratio=0.0)
BEFORE_MINUTES = 20
PRODUCE_RATE = 200  # events per second
S3_DOWN_SECONDS = 60
KAFKA_DOWN_AFTER_SECONDS = 40  # into the S3 outage
KAFKA_DOWN_SECONDS = 30
DEADLINE_SECONDS = 900
# Above the Kafka outage as the job sees it (the stop and start scripts' own time included, about
# 50 s): the dimension sources stay active through it and hold the temporal join back. The cost is
# the tail: the last orders wait this long after the last dimension change before they are joined.
DIMENSION_IDLE_SECONDS = 120


def _service(name: str, command: str) -> None:
    """``infra/<name>/<name>.sh <command>``, as an operator would run it."""
    script = REPO / "infra" / name / f"{name}.sh"
    done = subprocess.run(
        [str(script), command], capture_output=True, text=True, timeout=300, env=flink_cluster.clean_environment()
    )
    assert done.returncode == 0, f"{script.name} {command} failed:\n{done.stderr[-3000:]}"


def _stack_healthy() -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(REPO / "infra" / "stack.sh"), "status"],
        capture_output=True,
        text=True,
        timeout=120,
        env=flink_cluster.clean_environment(),
    )


def test_every_table_equals_the_reference_model_after_s3_and_kafka_outages(local_stack):
    drill = DrillRun.create(
        "outage", dimension_source_options=f"scan.watermark.idle-timeout={DIMENSION_IDLE_SECONDS} s"
    )
    settings = drill.settings
    dataset = generator.generate(GEN)
    model = Model(dataset, rules.load(settings.rules_file))
    expected = {spec.name: len(model.tables[spec.name]) for spec in tables.ALL}
    storage.ensure_tables(settings)
    producer.ensure_topics(settings.kafka_bootstrap, settings.topic_prefix)
    job_id = flink_cluster.submit(settings, env=drill.env())
    flink_cluster.wait_all_tasks_running(settings, job_id, timeout=300)

    before, during = split_by_arrival(dataset, GEN.start_ms + BEFORE_MINUTES * 60_000)

    def produce() -> None:
        try:
            drill.produce(during, events_per_second=PRODUCE_RATE)
        except BaseException as error:  # noqa: BLE001 - reported by drill.check()
            drill.failures.append(error)

    producing = threading.Thread(target=produce, daemon=True)
    down: list[str] = []
    timeline: list[str] = []
    started = time.monotonic()

    def mark(what: str) -> None:
        timeline.append(f"{time.monotonic() - started:.0f}s {what}")

    try:
        drill.produce(before)
        # The outage hits a job that has committed: its restore has a checkpoint to go back to.
        wait_until(
            lambda: counts(settings)[tables.ORDER_EVENTS.name] > 0,
            timeout=300,
            what="the first silver commit",
            run=drill,
        )
        mark("silver has rows")
        producing.start()
        _service("s3", "stop")
        down.append("s3")
        mark("S3 stopped")
        time.sleep(KAFKA_DOWN_AFTER_SECONDS)
        drill.check()
        assert producing.is_alive(), "production ended before the Kafka outage: produce more, or slower"
        kafka_stopping = time.monotonic()
        _service("kafka", "stop")
        down.append("kafka")
        mark("Kafka stopped")
        time.sleep(S3_DOWN_SECONDS - KAFKA_DOWN_AFTER_SECONDS)
        _service("s3", "start")
        down.remove("s3")
        mark("S3 started")
        time.sleep(KAFKA_DOWN_SECONDS - (S3_DOWN_SECONDS - KAFKA_DOWN_AFTER_SECONDS))
        _service("kafka", "start")
        down.remove("kafka")
        kafka_away = time.monotonic() - kafka_stopping
        mark(f"Kafka started ({kafka_away:.0f} s away)")
        producing.join(timeout=600)
        assert not producing.is_alive(), "the producer did not finish within 600 s of Kafka's return"
        mark("production done")
        reached = wait_for_tables(
            drill,
            settings,
            expected,
            timeout=DEADLINE_SECONDS,
            what=f"every table to reach the reference model's row counts {expected}",
            fail=False,
        )
        mark(f"tables {'complete' if reached else 'incomplete'}")
        state = flink_cluster.job_state(settings, job_id)
        restarts = flink_cluster.restarts(settings, job_id)
    finally:
        for name in down:  # a failure above must not leave the stack without S3 or Kafka
            _service(name, "start")
        drill.cancel_running()
    drill.check()
    print(f"outage timeline: {'; '.join(timeline)}; job {state} after {restarts} restarts")

    assert kafka_away < DIMENSION_IDLE_SECONDS, (
        f"Kafka was away {kafka_away:.0f} s, longer than the dimension idle timeout: raise DIMENSION_IDLE_SECONDS"
    )
    assert state == "RUNNING", f"job {job_id} is {state}: {flink_cluster.job_exceptions(settings, job_id)[:3000]}"
    status = _stack_healthy()
    assert status.returncode == 0, f"a service of the stack is not healthy:\n{status.stdout}\n{status.stderr}"
    problems = []
    for spec in tables.ALL:
        rows = read_rows(storage.table_uri(settings, spec), spec, storage_options=settings.storage_options())
        problems += diff(spec, rows, model.tables[spec.name])
    assert not problems, "\n".join(problems)
