"""Session fixtures for the local service stack (Kafka, SeaweedFS S3, Flink session cluster).

The stack is started by the project's own infra/stack.sh on 127.0.0.1 and taken down at the end
of the session if this session started it. S3 keys come from the environment; when unset, the
session makes random throwaway ones (nothing secret is stored in the repository).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse import flink_cluster

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "infra" / "stack.sh"
CREDENTIALS = ("S3_WRITER_ACCESS_KEY", "S3_WRITER_SECRET_KEY", "S3_READER_ACCESS_KEY", "S3_READER_SECRET_KEY")


def _stack(command: str, *, timeout: float) -> subprocess.CompletedProcess:
    # Not os.environ as is: an embedded job earlier in the session left pyflink's FLINK_* variables.
    env = flink_cluster.clean_environment()
    return subprocess.run([str(STACK), command], capture_output=True, text=True, timeout=timeout, env=env)


def pytest_collection_modifyitems(items):
    """Tiers: a test that uses the local stack is marked ``stack``; the other integration tests
    run the Flink mini-cluster only and are marked ``minicluster`` (``make test-minicluster``)."""
    for item in items:
        if "integration" not in item.keywords:
            continue
        item.add_marker(pytest.mark.stack if "local_stack" in item.fixturenames else pytest.mark.minicluster)


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
