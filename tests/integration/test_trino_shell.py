"""`lakehouse trino shell` is Trino's own CLI (the server's version) against the local server and
its Delta catalog: arguments reach the CLI, statements come from stdin too, exit codes come back."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lakehouse.pipeline import flink_cluster

pytestmark = pytest.mark.integration


def _shell(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse", "trino", "shell", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=flink_cluster.clean_environment(),
    )


def test_the_shell_runs_trinos_cli_on_the_local_server(trino_server):
    server = _shell("--execute", "select node_version from system.runtime.nodes", "--output-format", "TSV")
    assert server.returncode == 0, server.stderr[-2000:]
    version = _shell("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"Trino CLI {server.stdout.strip()}"
    catalogs = _shell("--execute", "show catalogs", "--output-format", "CSV")
    assert catalogs.returncode == 0, catalogs.stderr[-2000:]
    assert {'"delta"', '"system"'} <= set(catalogs.stdout.split())
    piped = _shell("--output-format", "CSV", stdin="select count(*) from system.runtime.nodes;\n")
    assert piped.returncode == 0 and piped.stdout.split() == ['"1"'], piped.stderr[-2000:]
    failed = _shell("--execute", "select * from no_such_schema.no_such_table")
    assert failed.returncode != 0
