"""Whether a job's restarts came from what it read: Flink's exception history, one PyFlink worker
start-up failure allowed.

PyFlink's process mode starts one Python worker per slot, which opens its data channel to the
TaskManager when the UDF's first batch is sent. Seen once in CI (1 December, the hostile-input
replay): the worker's connection to that channel was refused, the operator waited Beam's fixed three
minutes for it, failed, and the job restarted and went on to equal tables. That is the worker
starting, not a record: it is told apart by its cause (PYTHON_WORKER_START) and allowed once per
job; any other failure, a second one, or a restart without a failure in the history is reported.
"""

from __future__ import annotations

PYTHON_WORKER_START = "No client connected within timeout"


def restarts_by_input(restarts: int, failures: list[dict]) -> list[str]:
    """What contradicts "no record made the job restart", one line per problem (empty when none):
    ``restarts`` is Flink's numRestarts, ``failures`` the job's exception history
    (lakehouse.pipeline.flink_cluster.failures)."""
    worker_start = [f for f in failures if PYTHON_WORKER_START in f["stacktrace"]][:1]
    problems = [
        f"{f['task'] or 'global failure'}: {f['exception']}\n{f['stacktrace'][:2000]}"
        for f in failures
        if f not in worker_start
    ]
    if restarts > len(failures):  # restarts without a failure in the history
        problems.append(f"{restarts} restarts, exception history: {[f['exception'] for f in failures]}")
    return problems
