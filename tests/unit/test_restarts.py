"""The hostile-input stack test's rule on restarts (tests/restarts.py): only one start-up failure of
PyFlink's Python worker is forgiven."""

from __future__ import annotations

from tests.restarts import PYTHON_WORKER_START, restarts_by_input

WORKER_START = {
    "timestamp": 1,
    "task": "OverAggregate[12] -> PythonCalc[17] (2/2)",
    "exception": "org.apache.flink.runtime.taskmanager.AsynchronousException",
    "stacktrace": "AsynchronousException: Caught exception while processing timer.\n"
    "Caused by: java.lang.RuntimeException: Failed to start remote bundle\n"
    f"Caused by: java.lang.RuntimeException: {PYTHON_WORKER_START}",
}
RECORD = {
    "timestamp": 2,
    "task": "Source: src_order_events (1/2)",
    "exception": "java.lang.NumberFormatException",
    "stacktrace": 'java.lang.NumberFormatException: For input string: "1e999"',
}


def test_no_failure_and_no_restart_is_clean():
    assert restarts_by_input(0, []) == []


def test_one_worker_start_failure_and_its_restart_are_forgiven():
    assert restarts_by_input(1, [WORKER_START]) == []


def test_a_failure_from_a_record_is_reported_with_its_task_and_cause():
    problems = restarts_by_input(1, [RECORD])
    assert len(problems) == 1
    assert "src_order_events" in problems[0] and "NumberFormatException" in problems[0]


def test_a_second_worker_start_failure_is_reported():
    second = dict(WORKER_START, timestamp=3)
    problems = restarts_by_input(2, [WORKER_START, second])
    assert len(problems) == 1 and PYTHON_WORKER_START in problems[0]


def test_a_restart_the_history_does_not_account_for_is_reported():
    assert restarts_by_input(1, []) == ["1 restarts, exception history: []"]
