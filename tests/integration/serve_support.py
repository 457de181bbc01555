"""Real parts for the serving side's tests: a client of the `redis_server` fixture (conftest.py),
`lakehouse serve` as a subprocess, plain HTTP and WebSocket clients."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.serve import free_port as free_port  # the tests take it from here too
from bench.serve import stop
from lakehouse.pipeline import flink_cluster

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("LAKEHOUSE_TEST_ARTIFACTS", REPO / "build" / "test-artifacts"))


def redis_client(redis_server):
    import redis

    return redis.Redis(host="127.0.0.1", port=redis_server["port"], password=redis_server["password"])


@contextmanager
def serve_process(env: dict[str, str], *, port: int, log_path: Path, timeout: float = 60):
    """Run `python -m lakehouse serve` with ``env`` on top of a clean environment; stop it by PID."""
    full_env = {**flink_cluster.clean_environment(), **env, "SERVE_PORT": str(port)}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "lakehouse", "serve"], cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"lakehouse serve exited {process.returncode}: {log_path.read_text()[-3000:]}")
            try:
                status, _ = get(base + "/api/health")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"lakehouse serve did not answer within {timeout} s: {log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        stop(process)


def get(url: str) -> tuple[int, dict | str]:
    """(status, parsed JSON or text); 4xx and 5xx are answers, not exceptions."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            status, body, kind = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        status, body, kind = error.code, error.read(), error.headers.get("Content-Type", "")
    return status, json.loads(body) if "json" in kind else body.decode()


def wait_for(check, *, timeout: float, interval: float = 0.5, what: str = "condition"):
    """Poll ``check()`` until it returns a truthy value; return it, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
