"""deploy/build.sh --context-only: the image's build context holds what deploy/Dockerfile copies,
the jars are the local stack's own files, and the job imports from the copied code alone.

Docker itself is not available here (deploy/README.md); this checks everything up to `docker build`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> tuple[Path, list[str]]:
    target = tmp_path_factory.mktemp("image") / "context"
    done = subprocess.run(
        [str(REPO / "deploy" / "build.sh"), "--context-only", str(target)], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return target, done.stdout.split()


def test_every_path_the_dockerfile_copies_is_in_the_context(context):
    root, _args = context
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    sources = re.findall(r"^COPY (?:--chown=\S+ )?(?!--from)(\S+) ", dockerfile, flags=re.M)
    assert sources, "the Dockerfile copies from the context"
    for source in sources:
        assert (root / source).exists(), source
    assert {p.name for p in (root / "lakehouse" / "jars").iterdir()} == {
        "lakehouse-udfs.jar",
        "lakehouse-delta-connector.jar",
    }


def test_the_jars_are_the_local_stacks_and_the_arguments_its_versions(context):
    root, args = context
    listed = subprocess.run(
        [str(REPO / "infra" / "flink" / "flink.sh"), "artifacts"], capture_output=True, text=True, check=True
    ).stdout.split()
    in_lib = {Path(line).name for line in listed if not line.startswith("plugin:")}
    in_plugins = {Path(line.removeprefix("plugin:")).name for line in listed if line.startswith("plugin:")}
    assert {p.name for p in (root / "flink" / "lib").iterdir()} == in_lib
    assert {p.name for p in (root / "flink" / "plugins").rglob("*.jar")} == in_plugins
    import pyflink.version

    assert f"FLINK_VERSION={pyflink.version.__version__}" in args
    assert f"PYTHON_VERSION={sys.version.split()[0]}" in args


def test_the_job_imports_from_the_copied_code_alone(context):
    root, _args = context
    app = root / "lakehouse" / "app"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(app)}
    done = subprocess.run(
        [sys.executable, "-c", "import jobs.orders_pipeline, lakehouse.config as c; print(c.load().rules_file)"],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rules = Path(done.stdout.strip())
    assert rules.is_file() and rules.is_relative_to(app), rules
