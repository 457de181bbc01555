"""deploy/build.sh --context-only: the image's build context holds what deploy/Dockerfile copies,
the jars are the local stack's own files, and the job imports from the copied code alone.

Docker itself is not available here (deploy/README.md); this checks everything up to `docker build`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.pipeline import flink_cluster

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


def test_the_job_plans_from_the_copied_code_alone(context):
    """The job's whole plan (its SQL files, rules, Python UDFs), as the image's production profile
    builds it, compiles from app/ with the image's jars."""
    root, _args = context
    app = root / "lakehouse" / "app"
    # The project's jars and, as the image has them in Flink's lib/, the Kafka connector and Parquet.
    jars = ";".join(
        str(p) for p in sorted([*(root / "lakehouse" / "jars").glob("*.jar"), *(root / "flink" / "lib").glob("*.jar")])
    )
    # Without what pyflink exported in this test process (PYFLINK_GATEWAY_PORT would make the child
    # talk to an embedded run's JVM instead of starting its own) and without this checkout's code.
    env = {k: v for k, v in flink_cluster.clean_environment().items() if k != "PYTHONPATH"} | {
        "PYTHONPATH": str(app),
        "LAKEHOUSE_JOB_JARS": jars,
        "LAKEHOUSE_DATA_DIR": str(root.parent / "data"),
    }
    script = (
        "import lakehouse, lakehouse.config as c, lakehouse.pipeline.fingerprint as f; "
        "s = c.load('production'); print(lakehouse.__file__); print(s.rules_file); "
        "print(len(f.compute(s, connector_jars=False).operators))"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd="/", env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    module, rules, operators = done.stdout.strip().splitlines()[-3:]
    assert Path(module).is_relative_to(app) and Path(rules).is_relative_to(app), (module, rules)
    assert int(operators) > 5, "the plan has the pipeline's stateful operators"
