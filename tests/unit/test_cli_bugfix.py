"""The bug-fix commands' decisions, without a cluster: refuse, restore, switch."""

import pytest

from lakehouse import cli, config
from lakehouse.lake import storage
from lakehouse.pipeline import fingerprint, flink_cluster, release

RELEASE = object()  # stands for this checkout's release archive (lakehouse/pipeline/release.py), not built here


@pytest.fixture(autouse=True)
def _release(monkeypatch):
    monkeypatch.setattr(release, "current", lambda **_k: RELEASE)


def _check(ok: bool) -> fingerprint.RestoreCheck:
    fp = fingerprint.Fingerprint(operators={"49_stream-exec-global-window-aggregate": "a"})
    problems = (
        []
        if ok
        else ["49_stream-exec-global-window-aggregate: its state layout changed (aggregates, keys or row types)"]
    )
    return fingerprint.RestoreCheck(ok, problems, fp, fp)


def test_an_incompatible_savepoint_is_refused_with_the_replay_command_and_nothing_is_submitted(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    submitted = []
    monkeypatch.setattr(fingerprint, "check_restore", lambda settings, savepoint: _check(False))
    monkeypatch.setattr(flink_cluster, "submit", lambda *a, **k: submitted.append(k) or "f" * 32)
    code = cli.main(["submit", "--profile", "embedded", "--from-savepoint", "s3://b/savepoint-1"])
    err = capsys.readouterr().err
    assert code == 3 and submitted == []
    assert "refusing to restore s3://b/savepoint-1" in err
    assert "49_stream-exec-global-window-aggregate" in err
    assert "python -m lakehouse replay --table-version v2" in err


def test_a_compatible_savepoint_restores(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    submitted = []
    monkeypatch.setattr(fingerprint, "check_restore", lambda settings, savepoint: _check(True))
    monkeypatch.setattr(flink_cluster, "submit", lambda settings, **k: submitted.append(k) or "f" * 32)
    assert cli.main(["submit", "--profile", "embedded", "--from-savepoint", "s3://b/savepoint-1"]) == 0
    assert submitted == [{"savepoint": "s3://b/savepoint-1", "release": RELEASE}]
    assert "matches the savepoint's" in capsys.readouterr().out


def test_switch_refuses_an_unwritten_version_and_moves_readers_to_a_written_one(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    settings = config.load("embedded")
    storage.ensure_tables(settings)
    assert cli.main(["switch", "--profile", "embedded", "v2"]) == 2
    storage.ensure_tables(config.load("embedded", table_version="v2"))
    assert cli.main(["switch", "--profile", "embedded", "v2"]) == 0
    assert "now see version v2 (was base)" in capsys.readouterr().out


def _silver_committed_by(settings, job_name: str, job_id: str) -> None:
    """silver.order_events as the Delta sink of ``job_name`` leaves it after one commit (its txn map)."""
    import json

    import pyarrow as pa
    from deltalake import CommitProperties, write_deltalake

    from lakehouse.lake import tables

    spec = tables.BY_NAME["silver.order_events"]
    storage.ensure_tables(settings)
    transactions = {f"{job_name}/{spec.name}/{job_id}/0": 3}
    write_deltalake(
        storage.table_uri(settings, spec),
        pa.Table.from_pylist([], schema=spec.arrow_schema()),
        mode="append",
        commit_properties=CommitProperties(custom_metadata={"lakehouse.transactions": json.dumps(transactions)}),
    )


def test_a_fresh_submission_over_tables_the_job_has_written_is_refused(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    settings = config.load("embedded")
    _silver_committed_by(settings, settings.job_name, "a" * 32)
    submitted = []
    monkeypatch.setattr(flink_cluster, "submit", lambda settings, **k: submitted.append(k) or "f" * 32)
    assert cli.main(["submit", "--profile", "embedded"]) == 3
    err = capsys.readouterr().err
    assert submitted == []
    assert "a" * 32 in err and "--from-savepoint" in err and "--fresh-start" in err
    assert cli.main(["submit", "--profile", "embedded", "--fresh-start"]) == 0
    assert submitted == [{"savepoint": None, "release": RELEASE}]


def test_a_fresh_submission_is_accepted_where_only_another_job_has_committed(monkeypatch, tmp_path):
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    settings = config.load("embedded")
    _silver_committed_by(settings, "orders-pipeline-v2", "b" * 32)
    submitted = []
    monkeypatch.setattr(flink_cluster, "submit", lambda settings, **k: submitted.append(k) or "f" * 32)
    assert cli.main(["submit", "--profile", "embedded"]) == 0
    assert submitted == [{"savepoint": None, "release": RELEASE}]


def test_submit_ships_the_release_unless_told_not_to(monkeypatch, tmp_path):
    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(storage, "committing_jobs", lambda *_a: set())
    monkeypatch.setattr(storage, "ensure_tables", lambda *_a, **_k: None)
    submitted = []
    monkeypatch.setattr(flink_cluster, "submit", lambda settings, **k: submitted.append(k["release"]) or "f" * 32)
    assert cli.main(["submit", "--profile", "embedded"]) == 0
    assert cli.main(["submit", "--profile", "embedded", "--no-package"]) == 0
    assert submitted == [RELEASE, None]
    assert cli.main(["submit", "--profile", "embedded", "--no-package", "--package", "x.tar.gz"]) == 2
