"""The pipeline as a Flink application cluster: one release, one job, one cluster.

Flink's standalone application mode (``bin/standalone-job.sh`` of the distribution) is what the
Flink Kubernetes Operator runs in a FlinkDeployment's JobManager pod: the JobManager itself runs
the job's Python driver (PythonDriver) and submits the job to itself; when the job ends (finished,
cancelled, or stopped with a savepoint) the cluster shuts down. Here it runs on this machine from
an unpacked release (`lakehouse package`): the JobManager and one TaskManager get a FLINK_HOME of
the distribution plus the release's cluster jars and plugins, the job its Python environment
(-pyarch / -pyexec), code (-pyfs), job file (-py) and jars (LAKEHOUSE_JOB_JARS), as `flink run`
gets them on a session cluster. `infra/flink/flink.sh app-start` owns the processes (pid files,
logs, ports FLINK_APP_REST_PORT and FLINK_APP_JM_RPC_PORT of infra/stack.env, next to the session
cluster's).

    lakehouse app start [--from-savepoint PATH] [--parallelism N]
    lakehouse app stop        # stop with a savepoint, print it; the cluster shuts down
    lakehouse app status

Restoring is starting a new application cluster from the savepoint (`--fromSavepoint`), after the
same state pre-flight check as `lakehouse submit --from-savepoint`.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

from lakehouse import config
from lakehouse.config import Settings
from lakehouse.pipeline import flink_cluster
from lakehouse.pipeline import release as release_module
from lakehouse.pipeline.release import Release

REPO = Path(__file__).resolve().parents[2]
FLINK = REPO / "infra" / "flink" / "flink.sh"
ENTRY_CLASS = "org.apache.flink.client.python.PythonDriver"


def _flink_sh(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = flink_cluster.clean_environment()
    if env is not None:  # the job's settings: this mapping's, none this process inherited
        full_env = {k: v for k, v in full_env.items() if k not in config.environment_names(secrets=False)} | env
        full_env.pop("PYTHONPATH", None)  # the job's driver imports the release's code, not this checkout's
    return subprocess.run([str(FLINK), *args], capture_output=True, text=True, timeout=timeout, env=full_env, cwd=REPO)


def rest_url() -> str:
    """The application cluster's REST endpoint (FLINK_APP_REST_PORT, infra/stack.env)."""
    done = _flink_sh("app-rest", timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"flink.sh app-rest failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def job_arguments(release: Release, *, savepoint: str | None = None) -> list[str]:
    """What bin/standalone-job.sh gets: the entry class, the restore path, then PythonDriver's
    arguments (the same -pyarch/-pyexec/-pyclientexec/-pyfs/-py as `flink run` with a release)."""
    arguments = ["--job-classname", ENTRY_CLASS]
    if savepoint:
        arguments += ["--fromSavepoint", savepoint]
    env = f"{release.python_env}#{release_module.ENV_NAME}"
    arguments += ["-pyarch", env, "-pyexec", f"{release_module.ENV_NAME}/{release_module.PYTHON_IN_ENV}"]
    arguments += ["-pyclientexec", str(release.client_python), "-pyfs", str(release.code), "-py", str(release.job)]
    return arguments


def job_environment(settings: Settings, release: Release) -> dict[str, str]:
    """The job's settings for the JobManager's Python driver (config.job_environment), with the
    release's jars and not this checkout's code."""
    return config.job_environment(settings) | {"LAKEHOUSE_JOB_JARS": ";".join(str(jar) for jar in release.jars)}


@dataclass(frozen=True)
class Started:
    job_id: str
    rest: str
    seconds: float


def start(
    settings: Settings, release: Release, *, savepoint: str | None = None, timeout: float = 600, log=print
) -> Started:
    """Start an application cluster running the release's job at ``settings.parallelism`` (one
    TaskManager with that many slots), restored from ``savepoint`` if given; return once every
    task of the job runs."""
    started = time.monotonic()
    env = {k: v for k, v in job_environment(settings, release).items() if v}
    command = [
        "app-start",
        str(release.root),
        str(settings.parallelism),
        "--",
        *job_arguments(release, savepoint=savepoint),
    ]
    done = _flink_sh(*command, env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"flink.sh app-start failed:\n{done.stderr[-4000:]}")
    rest = rest_url()
    app = replace(settings, flink_rest=rest)
    deadline = time.monotonic() + timeout
    while True:
        jobs = flink_cluster.list_jobs(app)
        if jobs:
            break
        if time.monotonic() > deadline or _flink_sh("app-status", timeout=60).returncode != 0:
            raise RuntimeError(f"the application cluster on {rest} shows no job:\n{jobmanager_log()[-4000:]}")
        time.sleep(2)
    job_id = jobs[0]["id"]
    flink_cluster.wait_all_tasks_running(app, job_id, timeout=max(60.0, deadline - time.monotonic()))
    seconds = time.monotonic() - started
    log(f"application cluster on {rest} runs {settings.job_name} as job {job_id} ({seconds:.0f}s)")
    return Started(job_id=job_id, rest=rest, seconds=seconds)


def stop(settings: Settings, *, savepoint: bool = True, target: str | None = None, timeout: float = 120) -> str | None:
    """Stop the application cluster's job with a savepoint (and its state fingerprint beside it,
    as `lakehouse jobs stop` does) and return the savepoint's path; then wait for the cluster to
    shut down, and end what is left of it (the TaskManager does not end on its own).
    ``savepoint=False`` only ends the processes (the job's retained checkpoints stay)."""
    from lakehouse.pipeline import fingerprint

    location = None
    if savepoint:
        app = replace(settings, flink_rest=rest_url())
        running = [job for job in flink_cluster.list_jobs(app) if job["state"] == "RUNNING"]
        if not running:
            raise RuntimeError(f"no running job on the application cluster {app.flink_rest}")
        location, _recorded = fingerprint.stop_with_savepoint(app, running[0]["id"], target=target)
        deadline = time.monotonic() + timeout
        # The JobManager shuts the cluster down once the job has ended.
        while time.monotonic() < deadline and _flink_sh("app-status", timeout=60).returncode != 3:
            time.sleep(1)
    done = _flink_sh("app-stop", timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"flink.sh app-stop failed:\n{done.stderr[-2000:]}")
    return location


def status() -> tuple[int, str]:
    """(exit code, report) of `flink.sh app-status`: 0 running, 3 stopped, 1 unhealthy."""
    done = _flink_sh("app-status", timeout=60)
    return done.returncode, (done.stdout + done.stderr).strip()


def jobmanager_log() -> str:
    """The application JobManager's console log (the job driver's output and Flink's warnings)."""
    state = Path(os.environ.get("LAKEHOUSE_STATE_DIR", Path.home() / ".local" / "state" / "lakehouse"))
    path = state / "log" / "flink-app-jobmanager.log"
    return path.read_text(errors="replace") if path.exists() else f"(no {path})"
