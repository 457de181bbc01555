"""Session fixtures shared by the integration tests: the local service stack (Kafka, SeaweedFS S3,
Flink session cluster), Trino and Redis on top of it, and one embedded pipeline run to copy.

Each service is started by the project's own script under infra/ on 127.0.0.1 and taken down at
the end of the session if this session started it. S3 keys come from the environment; when unset,
the session makes random throwaway ones (nothing secret is stored in the repository); so does the
Redis password.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse import config
from lakehouse.pipeline import embedded, flink_cluster
from lakehouse.query import trino as lakehouse_trino
from lakehouse.sources import generator

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "infra" / "stack.sh"
TRINO = REPO / "infra" / "trino" / "trino.sh"
REDIS = REPO / "infra" / "redis" / "redis.sh"
# The input of the shared pipeline run (`pipeline_lake_copy`): 2 orders per second for an hour.
PIPELINE_LAKE_INPUT = generator.GeneratorConfig(orders_per_second=2.0)
CREDENTIALS = ("S3_WRITER_ACCESS_KEY", "S3_WRITER_SECRET_KEY", "S3_READER_ACCESS_KEY", "S3_READER_SECRET_KEY")


def _stack(command: str, *, timeout: float) -> subprocess.CompletedProcess:
    # Not os.environ as is: an embedded job earlier in the session left pyflink's FLINK_* variables.
    env = flink_cluster.clean_environment()
    return subprocess.run([str(STACK), command], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def local_stack():
    """Bring the stack up (installing it on first use); yield; take it down if we brought it up."""
    os.environ.setdefault("LAKEHOUSE_PYTHON", sys.executable)
    for name in CREDENTIALS:
        if not os.environ.get(name):
            os.environ[name] = ("it-" + secrets.token_hex(4)) if name.endswith("ACCESS_KEY") else secrets.token_hex(16)
    already_up = _stack("status", timeout=60).returncode == 0
    if not already_up:
        started = _stack("up", timeout=1500)
        if started.returncode != 0:
            pytest.fail(f"infra/stack.sh up failed:\n{started.stdout[-3000:]}\n{started.stderr[-3000:]}")
    yield
    if not already_up:
        stopped = _stack("down", timeout=300)
        assert stopped.returncode == 0, stopped.stderr[-2000:]


def _script(script: Path, command: str, *, timeout: float) -> subprocess.CompletedProcess:
    env = flink_cluster.clean_environment()  # no pyflink variables from an embedded job earlier
    return subprocess.run([str(script), command], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def trino_server(local_stack) -> lakehouse_trino.TrinoSettings:
    """A healthy Trino reading the stack's S3 with this session's reader keys; yields where it answers.

    Trino is started if it is not running (or restarted by infra/trino/trino.sh when it runs with
    other S3 keys than this session's) and stopped at the end only if this session started it.
    """
    was_running = _script(TRINO, "status", timeout=60).returncode == 0
    started = _script(TRINO, "start", timeout=1200)  # the first start downloads and unpacks the server
    if started.returncode != 0:
        pytest.fail(f"infra/trino/trino.sh start failed:\n{started.stdout[-3000:]}\n{started.stderr[-3000:]}")
    print(started.stderr.strip().splitlines()[-1])  # "healthy on ..., started in Ns, rss M MiB"
    yield lakehouse_trino.TrinoSettings.from_env()
    if not was_running:
        stopped = _script(TRINO, "stop", timeout=120)
        assert stopped.returncode == 0, stopped.stderr[-2000:]


@pytest.fixture(scope="session")
def redis_server():
    """Redis on 127.0.0.1:$REDIS_PORT (installed from Debian on first use); stopped if we started it."""
    if not os.environ.get("REDIS_PASSWORD"):
        os.environ["REDIS_PASSWORD"] = secrets.token_hex(16)
    already_up = _script(REDIS, "status", timeout=600).returncode == 0
    if not already_up:
        started = _script(REDIS, "start", timeout=600)
        if started.returncode != 0:
            pytest.fail(f"infra/redis/redis.sh start failed:\n{started.stdout[-2000:]}\n{started.stderr[-2000:]}")
    yield {"port": int(os.environ.get("REDIS_PORT", "6379")), "password": os.environ["REDIS_PASSWORD"]}
    if not already_up:
        assert _script(REDIS, "stop", timeout=600).returncode == 0


@pytest.fixture(scope="session")
def no_restart_settings(tmp_path_factory):
    """A function (name, **overrides) -> embedded Settings in a fresh directory, checkpointing
    every 2 s, with Flink's restart strategy off: one failure fails the run instead of restarting it."""

    def make(name: str, **overrides) -> config.Settings:
        return config.load(
            "embedded",
            data_dir=tmp_path_factory.mktemp(name),
            checkpoint_interval_ms=2000,
            flink_options="restart-strategy.type=none",
            **overrides,
        )

    return make


@pytest.fixture(scope="session")
def pipeline_lake_copy(tmp_path_factory):
    """A function name -> Settings on a fresh copy of one embedded pipeline run on PIPELINE_LAKE_INPUT.

    The run happens once per session, on first use; the notebook, quality and read-model tests each
    work on their own copy.
    """
    root = tmp_path_factory.getbasetemp() / "issue6-pipeline"
    done = root / "done"

    def copy(name: str) -> config.Settings:
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)
            settings = config.load("embedded", data_dir=root / "data", checkpoint_interval_ms=3000)
            embedded.prepare_input(settings, PIPELINE_LAKE_INPUT)
            embedded.run_pipeline(settings)
            done.touch()
        target = tmp_path_factory.mktemp(name) / "data"
        shutil.copytree(root / "data", target)
        return config.load("embedded", data_dir=target)

    return copy


@pytest.fixture(scope="module")
def batch_env(tmp_path_factory):
    """One batch TableEnvironment per test module (the JVM starts once), for transforms on in-memory rows."""
    from lakehouse.pipeline.flink_env import create_table_env

    settings = config.load("embedded", data_dir=tmp_path_factory.mktemp("batch"), parallelism=1)
    return create_table_env(settings, batch=True)


@pytest.fixture(scope="module")
def stream_env(tmp_path_factory):
    """One streaming TableEnvironment per test module, for what needs a time attribute (bounded input)."""
    from lakehouse.pipeline.flink_env import create_table_env

    settings = config.load("embedded", data_dir=tmp_path_factory.mktemp("stream"), parallelism=1)
    return create_table_env(settings)
