"""Exactly once under failure: TaskManagers killed with SIGKILL mid-stream, then a stop with a
savepoint and a restore, while events flow from Kafka and the job's Delta sinks commit at every
checkpoint (a restored job meets committables it may already have committed, and skips them).

The last records (by arrival) are published only after the restore, as a live source would keep
publishing: watermarks are not in savepoints, so a restored job's windows wait until every
order-events partition delivers a record again (docs/DESIGN.md, "Limits known today"). With the
whole input published before the stop, a partition the job had read to its end held every window
back for good in one CI run.

At the end every event must be in silver exactly once (by event id), every window row exactly
once, and every table must equal the reference model.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bench.memory import descendants
from lakehouse import rules
from lakehouse.lake import storage
from lakehouse.pipeline import flink_cluster
from lakehouse.sources import generator, producer
from tests.integration.drill_support import DrillRun, split_by_arrival
from tests.integration.stack_support import assert_tables_equal_model, expected_counts, produce_paced, row_counts
from tests.reference import Model

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FLINK = REPO / "infra" / "flink" / "flink.sh"
# About 118,000 order events over one hour of event time.
GEN = generator.GeneratorConfig(orders_per_second=7.0)
PRODUCE_RATE = 1_500  # events per second: the first part lasts about 70 s, so the kills land mid-stream
# The share of the input (by arrival) published before the stop; the rest, about 18,000 records
# spread over every partition, after the restore.
BEFORE_THE_STOP = 0.85
KILLS = 3
DEADLINE_SECONDS = 600


def _state_dir() -> Path:
    return Path(os.environ.get("LAKEHOUSE_STATE_DIR", Path.home() / ".local/state/lakehouse"))


def _kill_newest_taskmanager() -> int:
    """SIGKILL the newest TaskManager this project's scripts started, with its Python workers, as
    when its machine or container dies. Pid files hold "<pid> <start time>"; a pid reused by
    another process since is left alone."""
    pid_files = sorted(
        (_state_dir() / "run").glob("flink-taskmanager-*.pid"), key=lambda p: int(p.stem.rsplit("-", 1)[1])
    )
    for pid_file in reversed(pid_files):
        recorded = pid_file.read_text().split()
        pid = int(recorded[0])
        stat = _stat(pid)
        if stat is None or (len(recorded) > 1 and stat[19] != recorded[1]):
            continue
        workers = descendants(pid)
        os.kill(pid, signal.SIGKILL)
        for worker in workers:
            try:
                os.kill(worker, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pid
    raise AssertionError("no running TaskManager to kill")


def _wait_until_failure_noticed(settings, job_id: str, timeout: float = 60) -> None:
    """Until the JobManager notices a killed TaskManager (at the latest after the heartbeat
    timeout, 30 s), the job still shows every task RUNNING on it: waiting for "all running"
    right after a kill would return at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = flink_cluster.job_details(settings, job_id)
        if job["state"] != "RUNNING" or any(v["status"] != "RUNNING" for v in job["vertices"]):
            return
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still shows every task running {timeout:.0f}s after a TaskManager was killed")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _start_taskmanager() -> None:
    started = subprocess.run(
        [str(FLINK), "start-taskmanager"],
        capture_output=True,
        text=True,
        timeout=180,
        env=flink_cluster.clean_environment(),
    )
    assert started.returncode == 0, started.stderr[-2000:]


def _ensure_a_taskmanager() -> None:
    """Start a TaskManager if none of the stack's runs (flink.sh start does nothing otherwise)."""
    subprocess.run(
        [str(FLINK), "start"], capture_output=True, text=True, timeout=240, env=flink_cluster.clean_environment()
    )


def test_every_event_and_window_lands_once_across_kills_and_a_savepoint_restore(local_stack):
    drill = DrillRun.create("eo")  # isolated topics, tables and job name on the shared stack
    settings, env = drill.settings, drill.env()
    run = settings.job_name.removeprefix("eo-")
    dataset = generator.generate(GEN)
    model = Model(dataset, rules.load(settings.rules_file))
    order_events = sum(1 for r in dataset.orders)
    assert order_events >= 100_000
    in_order = producer.in_arrival_order(dataset)
    before, after = split_by_arrival(dataset, in_order[int(len(in_order) * BEFORE_THE_STOP)].arrival_ms)
    published_after = sum(len(records) for records in after.streams().values())
    producer.ensure_topics(settings.kafka_bootstrap, settings.topic_prefix)
    storage.ensure_tables(settings)
    job_id = flink_cluster.submit(settings, env=env)

    failures: list[BaseException] = []

    def produce(part: generator.Dataset) -> None:
        try:
            produce_paced(settings, part, events_per_second=PRODUCE_RATE)
        except BaseException as error:  # noqa: BLE001
            failures.append(error)

    producing = threading.Thread(target=produce, args=(before,), daemon=True)
    started = time.monotonic()
    producing.start()
    killed, savepoint, counts = [], None, {}
    chaos = random.Random(int(run, 16))
    kill_times = sorted(chaos.uniform(10, 60) for _ in range(KILLS))
    killed_at = []
    expected = expected_counts(model)
    try:
        for at in kill_times:
            time.sleep(max(0.0, at - (time.monotonic() - started)))
            killed.append(_kill_newest_taskmanager())
            killed_at.append(round(time.monotonic() - started))
            _start_taskmanager()
            _wait_until_failure_noticed(settings, job_id)
            flink_cluster.wait_all_tasks_running(settings, job_id)
        producing.join(timeout=300)
        assert not producing.is_alive(), "the producer did not finish"

        savepoint = flink_cluster.stop_with_savepoint(settings, job_id)
        job_id = flink_cluster.submit(settings, savepoint=savepoint, env=env)
        producing = threading.Thread(target=produce, args=(after,), daemon=True)
        producing.start()

        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline and not failures and counts != expected:
            time.sleep(5)
            counts = row_counts(settings)
    finally:
        if flink_cluster.job_state(settings, job_id) == "RUNNING":
            flink_cluster.cancel(settings, job_id)
        producing.join(timeout=300)
        _ensure_a_taskmanager()  # a failure here must not leave the next stack tests without slots
    assert not failures, failures

    assert_tables_equal_model(
        settings,
        model,
        summary=f"killed TaskManagers {killed} at {killed_at} s (planned {[round(t) for t in kill_times]}), "
        f"restored from {savepoint}, then published {published_after:,} more records; checked {order_events:,} order events: {counts}",
    )
