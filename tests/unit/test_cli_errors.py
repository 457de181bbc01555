"""Every command answers a failure with one line and a non-zero exit; the traceback only with --debug."""

from __future__ import annotations

import io
import urllib.error

import pytest

from lakehouse import cli
from lakehouse.pipeline import flink_cluster


def _http_error(code: int, body: str) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("http://127.0.0.1:8081/jobs/x", code, "Conflict", {}, io.BytesIO(body.encode()))


def test_an_unreachable_cluster_is_one_line_and_exit_1(monkeypatch, capsys):
    def refuse(*_a, **_k):
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    monkeypatch.setattr(flink_cluster, "_rest", refuse)
    assert cli.main(["jobs", "list", "--profile", "local"]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith("lakehouse jobs: cannot reach the service") and "make stack-up" in lines[0]


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setattr(flink_cluster, "_rest", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(["jobs", "list", "--profile", "local", "--debug"])
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(["--debug", "jobs", "list", "--profile", "local"])


def test_cancelling_a_job_that_already_ended_is_one_line_and_exit_0(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(flink_cluster, "job_state", lambda settings, job_id: "FINISHED")
    monkeypatch.setattr(flink_cluster, "_rest", lambda *a, **k: calls.append(a) or {})
    assert cli.main(["jobs", "cancel", "abc", "--profile", "local"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["abc had already ended (FINISHED); nothing to cancel"] and calls == []


def test_a_job_that_ends_while_being_cancelled_is_not_a_failure(monkeypatch, capsys):
    states = iter(["RUNNING", "CANCELED"])
    monkeypatch.setattr(flink_cluster, "job_state", lambda settings, job_id: next(states))

    def conflict(*_a, **_k):
        raise _http_error(409, '{"errors":["Job is not in a cancellable state"]}')

    monkeypatch.setattr(flink_cluster, "_rest", conflict)
    assert cli.main(["jobs", "cancel", "abc", "--profile", "local"]) == 0
    assert "already ended (CANCELED)" in capsys.readouterr().out


def test_an_http_failure_names_the_status_and_the_server_s_first_line(monkeypatch, capsys):
    monkeypatch.setattr(flink_cluster, "job_state", lambda settings, job_id: "RUNNING")

    def fail(*_a, **_k):
        raise _http_error(500, "Internal server error\nat some.Java.stack(Frame.java:1)")

    monkeypatch.setattr(flink_cluster, "_rest", fail)
    assert cli.main(["jobs", "cancel", "abc", "--profile", "local"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "lakehouse jobs: HTTP 500 Conflict from http://127.0.0.1:8081/jobs/x: Internal server error "
        "(--debug shows the traceback)"
    ]


def test_quarantine_lists_what_was_set_aside_and_exports_the_original_bytes(monkeypatch, tmp_path, capsys):
    import pyarrow as pa
    from deltalake import write_deltalake

    from lakehouse import config, contract
    from lakehouse.lake import storage, tables

    monkeypatch.setenv("LAKEHOUSE_DATA_DIR", str(tmp_path))
    settings = config.load("embedded")
    storage.ensure_tables(settings, (tables.QUARANTINE,))
    raw = [b'{"amount":"NaN"}', b'{"id":"\xff"}', None]
    rows = [
        {
            "record_id": contract.record_id(contract.stored_payload(v), f"orders/0/{i}"),
            "source_stream": "order-events",
            "reason": reason,
            "payload": contract.stored_payload(v),
            "event_time": None,
        }
        for i, (v, reason) in enumerate(
            zip(raw, ["wrong type: amount", contract.REASON_NOT_UTF8, contract.REASON_EMPTY], strict=True)
        )
    ]
    write_deltalake(
        storage.table_uri(settings, tables.QUARANTINE),
        pa.Table.from_pylist(rows, schema=tables.QUARANTINE.arrow_schema()),
        mode="append",
    )
    assert cli.main(["quarantine"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 records set aside") and "wrong type: amount" in out
    export = tmp_path / "replay.jsonl"
    assert cli.main(["quarantine", "--reason", "invalid UTF-8", "--export", str(export)]) == 0
    assert export.read_bytes() == b'{"id":"\xff"}\n'
    assert cli.main(["quarantine", "--list", "--stream", "order-events"]) == 0
    assert "<no value>" in capsys.readouterr().out


def test_a_jvm_error_is_reduced_to_its_root_cause():
    from lakehouse.cli import errors

    text = (
        "An error occurred while calling o38.sqlQuery.\n"
        ": org.apache.flink.table.api.ValidationException: SQL validation failed. From line 17\n"
        "\tat org.apache.flink.table.planner.calcite.FlinkPlannerImpl.validate(FlinkPlannerImpl.scala:205)\n"
        "Caused by: org.apache.calcite.runtime.CalciteContextException: Column 'proc_time' not found in table 'v'\n"
        "\tat java.base/jdk.internal.reflect.NativeConstructorAccessorImpl.newInstance0(Native Method)\n"
    )
    assert errors.describe(RuntimeError(text)) == "CalciteContextException: Column 'proc_time' not found in table 'v'"
    assert errors.describe(ValueError("bad value\nmore")) == "ValueError: bad value"
