"""Submitting and operating jobs on a Flink session cluster: `flink run` and the REST API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from lakehouse import config
from lakehouse.config import Settings
from lakehouse.pipeline import packaging
from lakehouse.pipeline import release as release_module
from lakehouse.pipeline.release import Release

REPO = Path(__file__).resolve().parents[2]
PIPELINE = REPO / "jobs" / "orders_pipeline.py"


def flink_home() -> Path:
    """FLINK_HOME of the local stack, or $LAKEHOUSE_FLINK_HOME (a real cluster's client).

    Not $FLINK_HOME: pyflink sets it in this process to its own bundled distribution, which has
    no Kafka connector."""
    if os.environ.get("LAKEHOUSE_FLINK_HOME"):
        return Path(os.environ["LAKEHOUSE_FLINK_HOME"])
    out = subprocess.run(
        [str(REPO / "infra" / "flink" / "flink.sh"), "home"], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def clean_environment() -> dict[str, str]:
    """os.environ without what pyflink sets in a process that ran an embedded job.

    pyflink exports FLINK_HOME, FLINK_LIB_DIR, FLINK_OPT_DIR, ... pointing at its bundled
    distribution (no Kafka connector), PYFLINK_GATEWAY_PORT, and this project sets a JVM_ARGS
    heap for the mini-cluster: `flink run` and the infra scripts must not inherit any of them.
    The stack's own settings (FLINK_REST_PORT, ... declared in infra/stack.env) are kept, so a
    stack started on other ports is found on them.
    """
    stack = _stack_variables()
    return {
        k: v
        for k, v in os.environ.items()
        if k in stack or (not k.startswith(("PYFLINK_", "_PYFLINK", "FLINK_")) and k != "JVM_ARGS")
    }


def _stack_variables() -> set[str]:
    path = Path(__file__).resolve().parents[2] / "infra" / "stack.env"
    return set(re.findall(r'^: "\$\{(\w+):=', path.read_text(encoding="utf-8"), flags=re.MULTILINE))


def run_command(
    settings: Settings, *, job: Path = PIPELINE, savepoint: str | None = None, release: Release | None = None
) -> list[str]:
    """The exact `flink run` command line for a job file, as the README documents it.

    With a ``release`` (lakehouse/pipeline/release.py) everything the job needs beyond Flink travels with
    it through Flink's own options: the Python environment (-pyarch, run by -pyexec on the
    workers), the code (-pyfs), the job file (-py) and, through the job, its jars (pipeline.jars);
    the client runs the release's own interpreter (-pyclientexec). Without one, the workers run
    this machine's venv, which only a TaskManager on this machine can reach."""
    rest = settings.flink_rest.split("://", 1)[-1]
    command = [str(flink_home() / "bin" / "flink"), "run", "-m", rest, "-d"]
    if release is not None:
        env = f"{release.python_env}#{release_module.ENV_NAME}"
        command += ["-pyarch", env, "-pyexec", f"{release_module.ENV_NAME}/{release_module.PYTHON_IN_ENV}"]
        command += ["-pyclientexec", str(release.client_python)]
    else:
        command += ["-pyclientexec", sys.executable, "-pyexec", sys.executable]
    if savepoint:
        command += ["-s", savepoint]
    # The Python workers on the TaskManagers import these packages (UDFs, contract, job code).
    command += ["-pyfs", str(release.code if release is not None else packaging.code_zip())]
    return command + ["-py", str(release.job if release is not None else job)]


def submit(
    settings: Settings,
    *,
    job: Path = PIPELINE,
    savepoint: str | None = None,
    env: dict[str, str] | None = None,
    release: Release | None = None,
) -> str:
    """Submit detached with `flink run`; return the job id Flink prints.

    The job builds itself from ``settings``, handed over as config.job_environment; ``env`` adds
    variables that are not settings (e.g. a drill's switches)."""
    command = run_command(settings, job=job, savepoint=savepoint, release=release)
    full_env = {**config.job_environment(settings, inherit=clean_environment()), **(env or {})}
    if release is not None:
        # The job puts its jars into pipeline.jars (lakehouse/pipeline/flink_env.py): the release's, prebuilt.
        full_env["LAKEHOUSE_JOB_JARS"] = ";".join(str(jar) for jar in release.jars)
        full_env.pop("PYTHONPATH", None)  # the client imports the release's code, not this checkout's
    done = subprocess.run(command, env=full_env, capture_output=True, text=True, cwd=REPO, timeout=600)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"flink run failed ({done.returncode}):\n{output[-4000:]}")
    for line in output.splitlines():
        if "JobID" in line or "job id" in line.lower():
            return line.rsplit(" ", 1)[-1].strip()
    raise RuntimeError(f"flink run printed no job id:\n{output[-2000:]}")


def _rest(settings: Settings, path: str, *, method: str = "GET", body: dict | None = None) -> dict | list:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        settings.flink_rest + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return json.loads(text) if text else {}


def list_jobs(settings: Settings) -> list[dict]:
    """id, name and state of every job the cluster knows."""
    overview = _rest(settings, "/jobs/overview")
    return [
        {"id": j["jid"], "name": j["name"], "state": j["state"], "start": j.get("start-time")} for j in overview["jobs"]
    ]


_ALIVE = {"CREATED", "INITIALIZING", "RUNNING", "RESTARTING"}


def job_details(settings: Settings, job_id: str) -> dict:
    """The REST API's view of a job: state, start-time, end-time, duration (ms), vertices with status."""
    return _rest(settings, f"/jobs/{job_id}")


def job_state(settings: Settings, job_id: str) -> str:
    return job_details(settings, job_id)["state"]


def job_exceptions(settings: Settings, job_id: str) -> str:
    """The job's failure history as Flink reports it (JSON text), e.g. to see why it restarts."""
    return json.dumps(_rest(settings, f"/jobs/{job_id}/exceptions"))


def failures(settings: Settings, job_id: str) -> list[dict]:
    """The job's failovers, oldest first, as Flink's exception history lists them (the newest
    ``web.exception-history-size``, 16 by default): each with its ``timestamp`` (ms), the ``task``
    that failed (None for a global failure), the ``exception`` class and the ``stacktrace`` with
    its causes."""
    history = _rest(settings, f"/jobs/{job_id}/exceptions").get("exceptionHistory") or {}
    return [
        {
            "timestamp": entry.get("timestamp"),
            "task": entry.get("taskName"),
            "exception": entry.get("exceptionName"),
            "stacktrace": entry.get("stacktrace") or "",
        }
        for entry in reversed(history.get("entries") or [])
    ]


def restarts(settings: Settings, job_id: str, *, timeout: float = 30) -> int:
    """How many times the job has restarted since it was submitted.

    Flink's numRestarts metric, which the REST API lists once its metric fetcher has seen it: for a
    job just submitted that can take a while, so this asks again until ``timeout``. When the
    metric never appears (seen once in a long test session, on a JobManager that had run many
    jobs), the count of the job's exception history: every failover of a running job records one
    entry there, so no entry means no restart."""
    deadline = time.monotonic() + timeout
    while True:
        metrics = _rest(settings, f"/jobs/{job_id}/metrics?get=numRestarts")
        values = [m["value"] for m in metrics if m.get("id") == "numRestarts"]
        if values:
            return int(float(values[0]))
        if time.monotonic() > deadline:
            history = _rest(settings, f"/jobs/{job_id}/exceptions").get("exceptionHistory") or {}
            entries = history.get("entries")
            if entries is None:
                raise RuntimeError(
                    f"the REST API reported neither numRestarts nor an exception history for job {job_id}"
                )
            return len(entries)
        time.sleep(1)


def checkpoint_summary(settings: Settings, job_id: str) -> dict:
    """The REST API's checkpoint statistics of a job: ``counts`` (completed, failed, ...) and
    ``latest`` (the newest completed and the newest failed checkpoint, or None).

    ``counts.failed`` also counts triggers the JobManager refused before a checkpoint began (e.g.
    while tasks still start); those have no id and never appear as ``latest.failed``."""
    return _rest(settings, f"/jobs/{job_id}/checkpoints")


def cancel(settings: Settings, job_id: str) -> str:
    """Cancel a job; returns "CANCELLING", or the state of a job that had already ended (then
    there is nothing to cancel: the REST API answers 409 Conflict, which is not a failure here)."""
    state = job_state(settings, job_id)
    if state not in _ALIVE:
        return state
    try:
        _rest(settings, f"/jobs/{job_id}", method="PATCH")
    except urllib.error.HTTPError as error:
        if error.code != 409:
            raise
        state = job_state(settings, job_id)  # it ended between the two calls
        if state in _ALIVE:
            raise
        return state
    return "CANCELLING"


def wait_all_tasks_running(settings: Settings, job_id: str, *, timeout: float = 180) -> None:
    """Wait until every task of the job runs: a job can be RUNNING while tasks still deploy after
    a restart, and a checkpoint or savepoint triggered then fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = job_details(settings, job_id)
        if job["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in job["vertices"]):
            return
        time.sleep(1)
    raise TimeoutError(f"tasks of {job_id} not all running after {timeout:.0f}s")


def stop_with_savepoint(
    settings: Settings, job_id: str, *, target: str | None = None, timeout: float = 300, attempts: int = 3
) -> str:
    """Stop a job with a savepoint (not drained: windows stay open for the restored job) and
    return its path. A savepoint refused or aborted while the job lives on (tasks still
    deploying, a failover during the savepoint) is tried again once all tasks run."""
    body = {"drain": False, "formatType": "CANONICAL"}
    if target:
        body["targetDirectory"] = target
    for attempt in range(attempts):
        wait_all_tasks_running(settings, job_id)
        trigger = _rest(settings, f"/jobs/{job_id}/stop", method="POST", body=body)["request-id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = _rest(settings, f"/jobs/{job_id}/savepoints/{trigger}")
            if status["status"]["id"] == "COMPLETED":
                break
            time.sleep(1)
        else:
            raise TimeoutError(f"savepoint of {job_id} not complete after {timeout:.0f}s")
        operation = status["operation"]
        if "failure-cause" not in operation:
            return operation["location"]
        cause = operation["failure-cause"].get("stack-trace", "")
        # Refused while tasks deploy, or aborted by a failover (a TaskManager lost during the
        # savepoint): the job lives on, so wait until it runs again and retry.
        retryable = job_state(settings, job_id) in _ALIVE
        if attempt == attempts - 1 or not retryable:
            raise RuntimeError(f"stop-with-savepoint failed: {cause[:2000]}")
        time.sleep(5)
    raise AssertionError("unreachable")


def rest(settings: Settings, path: str) -> dict | list:
    """GET a path of the REST API (e.g. operator metrics) and return its JSON."""
    return _rest(settings, path)
