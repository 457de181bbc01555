"""Session fixture for Trino on the local stack (infra/trino/trino.sh), on top of `local_stack`.

Import it into a test module: ``from tests.integration.trino_fixtures import trino_server``.
Trino is started if it is not running (or restarted by the script when it runs with other S3 keys
than this session's) and stopped at the end only if this session started it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lakehouse import flink_cluster
from lakehouse import trino as lakehouse_trino

REPO = Path(__file__).resolve().parents[2]
TRINO = REPO / "infra" / "trino" / "trino.sh"


def _trino(command: str, *, timeout: float) -> subprocess.CompletedProcess:
    env = flink_cluster.clean_environment()  # no pyflink variables from an embedded job earlier
    return subprocess.run([str(TRINO), command], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def trino_server(local_stack) -> lakehouse_trino.TrinoSettings:
    """A healthy Trino reading the stack's S3 with this session's reader keys; yields where it answers."""
    was_running = _trino("status", timeout=60).returncode == 0
    started = _trino("start", timeout=1200)  # the first start downloads and unpacks the server
    if started.returncode != 0:
        pytest.fail(f"infra/trino/trino.sh start failed:\n{started.stdout[-3000:]}\n{started.stderr[-3000:]}")
    print(started.stderr.strip().splitlines()[-1])  # "healthy on ..., started in Ns, rss M MiB"
    yield lakehouse_trino.TrinoSettings.from_env()
    if not was_running:
        stopped = _trino("stop", timeout=120)
        assert stopped.returncode == 0, stopped.stderr[-2000:]
