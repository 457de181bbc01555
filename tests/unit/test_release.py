"""lakehouse/pipeline/release.py without building a release: the environment's closure, the zip's file modes,
and the `flink run` line that ships a release with Flink's own options."""

from __future__ import annotations

import json
import stat
import sys
import zipfile

from lakehouse import config
from lakehouse.pipeline import flink_cluster, release


def test_the_environment_holds_the_jobs_closure_and_not_the_rest_of_the_venv():
    names = {dist.metadata["Name"].lower().replace("_", "-") for dist in release.distributions()}
    assert {"apache-flink", "apache-beam", "pyarrow", "pandas", "numpy", "deltalake", "py4j", "cloudpickle"} <= names
    # In the venv (requirements.lock) but needed by neither the job nor its Python workers.
    assert not names & {"great-expectations", "polars", "fastapi", "trino", "pytest", "uvicorn"}


def test_the_zip_keeps_the_executable_bit(tmp_path):
    tree = tmp_path / "tree"
    (tree / "python" / "bin").mkdir(parents=True)
    launcher = tree / "python" / "bin" / "python3"
    launcher.write_text("#!/bin/sh\n")
    launcher.chmod(0o755)
    (tree / "python" / "data.txt").write_text("x")
    target = tmp_path / "env.zip"
    release._zip_tree(tree, target)
    with zipfile.ZipFile(target) as archive:
        modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in archive.infolist()}
    assert modes == {"python/bin/python3": 0o755, "python/data.txt": 0o644}
    assert stat.S_IMODE(launcher.stat().st_mode) == 0o755


def _unpacked(tmp_path) -> release.Release:
    root = tmp_path / "releases" / "lakehouse-0123456789abcdef"
    root.mkdir(parents=True)
    manifest = {
        "name": root.name,
        "python": {"key": "feedc0de"},
        "files": {
            "python_env": "python-env.zip",
            "code": "code.zip",
            "job": "app/jobs/orders_pipeline.py",
            "jars": ["jars/lakehouse-delta-connector.jar", "jars/lakehouse-udfs.jar"],
        },
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return release.Release(root)


def test_flink_run_ships_the_release_with_flinks_own_options(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_FLINK_HOME", str(tmp_path / "flink"))
    monkeypatch.delenv("LAKEHOUSE_FLINK_REST", raising=False)  # the profile's default, whatever the shell says
    built = _unpacked(tmp_path)
    command = flink_cluster.run_command(config.load("local"), release=built)
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert command[:5] == [str(tmp_path / "flink" / "bin" / "flink"), "run", "-m", "127.0.0.1:8081", "-d"]
    assert options == {
        "-pyarch": f"{built.root}/python-env.zip#env",
        "-pyexec": "env/python/bin/python3",
        "-pyclientexec": str(tmp_path / "releases" / "python-env-feedc0de" / "python" / "bin" / "python3"),
        "-pyfs": f"{built.root}/code.zip",
        "-py": f"{built.root}/app/jobs/orders_pipeline.py",
    }
    assert sys.executable not in command, "nothing of this machine's venv"
    without = flink_cluster.run_command(config.load("local"))
    assert without[without.index("-pyexec") + 1] == sys.executable


def test_an_application_cluster_gets_the_same_python_options_as_flink_run(tmp_path, monkeypatch):
    from lakehouse.pipeline import application

    monkeypatch.setenv("LAKEHOUSE_FLINK_HOME", str(tmp_path / "flink"))
    built = _unpacked(tmp_path)
    run = flink_cluster.run_command(config.load("local"), release=built)
    arguments = application.job_arguments(built, savepoint="s3://lakehouse/flink/savepoints/savepoint-1")
    # standalone-job.sh's own options first (PythonDriver, the restore), then PythonDriver's.
    assert arguments[:4] == [
        "--job-classname",
        application.ENTRY_CLASS,
        "--fromSavepoint",
        "s3://lakehouse/flink/savepoints/savepoint-1",
    ]
    assert dict(zip(arguments[4::2], arguments[5::2], strict=True)) == dict(zip(run[5::2], run[6::2], strict=True))
    assert "--fromSavepoint" not in application.job_arguments(built)
    env = application.job_environment(config.load("local", parallelism=2, job_name="j"), built)
    assert env["LAKEHOUSE_PARALLELISM"] == "2" and env["LAKEHOUSE_JOB_NAME"] == "j"
    assert env["LAKEHOUSE_JOB_JARS"].split(";") == [str(jar) for jar in built.jars]
    assert not any("SECRET" in key or "ACCESS_KEY" in key for key in env), "keys reach the cluster from its environment"
    # The cluster is started by the project's own script, found from the module's place in the tree.
    assert application.FLINK.is_file(), application.FLINK
