"""lakehouse.query.trino without a server: report files, version pinning, output, idempotent registration."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from lakehouse import config
from lakehouse.lake import catalog, storage, tables
from lakehouse.query import trino as lakehouse_trino

_KEYWORDS = re.compile(
    r"\b(SELECT|FROM|WHERE|GROUP|ORDER|BY|WITH|AS|JOIN|LEFT|INNER|FULL|OUTER|CROSS|ON|AND|OR|CASE|WHEN|THEN"
    r"|ELSE|END|UNION|ALL|VALUES|OVER|PARTITION|DISTINCT|COUNT|SUM|MIN|MAX|AVG|INTERVAL|DATE)\b"
)


def _code(text: str) -> str:
    """The SQL without comments and string literals."""
    text = re.sub(r"--[^\n]*", "", text)
    return re.sub(r"'(?:[^']|'')*'", "''", text)


@pytest.mark.parametrize("name", lakehouse_trino.report_names())
def test_each_report_is_one_lowercase_statement_with_grain_and_key(name):
    text = lakehouse_trino.load_report(name)
    header = [line for line in text.splitlines() if line.startswith("--")]
    assert text.startswith("-- "), "starts with a header comment"
    assert any("Grain:" in line for line in header) and any("Key:" in line for line in header)
    code = _code(text)
    assert ";" not in code, "one statement per file, no terminator"
    assert not _KEYWORDS.findall(code), f"uppercase keywords: {sorted(set(_KEYWORDS.findall(code)))}"


def test_the_reports_of_the_issue_exist():
    assert {
        "rpt_hourly_revenue_by_region",
        "rpt_anomalies_by_rule_and_day",
        "rpt_top_categories",
        "rpt_order_status_funnel",
        "rpt_data_freshness",
        "rpt_daily_report",
    } <= set(lakehouse_trino.report_names())


def test_pin_versions_rewrites_table_references_only():
    sql = (
        "select * from silver.orders_enriched as e join gold.anomalies a on a.region = e.region "
        "union all select * from silver.\"orders_enriched$history\" where x = 'silver.orders_enriched_x'"
    )
    pinned = lakehouse_trino.pin_versions(sql, {"silver.orders_enriched": 3, "gold.anomalies": 7})
    assert "from silver.orders_enriched for version as of 3 as e" in pinned
    assert "join gold.anomalies for version as of 7 a on" in pinned
    assert 'silver."orders_enriched$history"' in pinned
    assert "silver.orders_enriched_x" in pinned
    assert pinned.count("for version as of") == 2


def test_pin_versions_refuses_a_name_that_is_not_a_table():
    with pytest.raises(ValueError):
        lakehouse_trino.pin_versions("select 1", {"silver.x; drop": 1})


def test_pin_versions_rewrites_every_report_that_reads_the_table():
    sql = lakehouse_trino.load_report("rpt_daily_report")
    pinned = lakehouse_trino.pin_versions(sql, {"silver.orders_enriched": 2, "gold.anomalies": 1})
    assert "silver.orders_enriched for version as of 2" in pinned
    assert "gold.anomalies for version as of 1" in pinned


def test_format_table_aligns_columns_and_right_aligns_numbers():
    result = lakehouse_trino.Result(
        ["day", "region", "orders", "revenue_eur", "first"],
        [
            (date(2026, 1, 1), "APAC", 1200, 1234.5, datetime(2026, 1, 1, 0, 5, tzinfo=UTC)),
            (date(2026, 1, 2), "EU-NORTH", 7, None, None),
        ],
    )
    lines = lakehouse_trino.format_table(result).splitlines()
    assert lines[0].split(" | ")[0].strip() == "day"
    assert lines[2] == "2026-01-01 | APAC     |  1,200 |    1,234.50 | 2026-01-01 00:05:00 UTC"
    assert lines[3] == "2026-01-02 | EU-NORTH |      7 |        NULL | NULL"
    assert lines[-1] == "(2 rows)"
    assert len(lines[1]) == len(lines[2]), "the separator spans every column"


class _FakeCursor:
    def __init__(self, server: _FakeTrino) -> None:
        self.server = server
        self.description = None
        self._rows: list[tuple] = []

    def execute(self, statement: str, params=None) -> None:
        self.server.statements.append(statement)
        rows: list[tuple] = []
        if statement.startswith("select table_schema, table_name from information_schema.tables"):
            rows = [tuple(name.split(".")) for name in self.server.tables]
        elif statement.startswith("show create table"):
            name = statement.split()[-1]
            rows = [(f"CREATE TABLE delta.{name} (x int)\nWITH (\n   location = '{self.server.tables[name]}'\n)",)]
        elif statement.startswith("call system.register_table"):
            values = re.findall(r"=> '([^']*)'", statement)
            self.server.tables[f"{values[0]}.{values[1]}"] = values[2]
        elif statement.startswith("call system.unregister_table"):
            values = re.findall(r"=> '([^']*)'", statement)
            del self.server.tables[f"{values[0]}.{values[1]}"]
        self._rows = rows
        self.description = [("c", None)] * (len(rows[0]) if rows else 1)

    def fetchall(self) -> list[tuple]:
        return self._rows

    def close(self) -> None:
        pass


class _FakeTrino:
    def __init__(self) -> None:
        self.tables: dict[str, str] = {}
        self.statements: list[str] = []

    def cursor(self) -> _FakeCursor:
        return _FakeCursor(self)


@pytest.fixture
def no_pointer(monkeypatch):
    """No S3 here: the table roots have no version pointer (lakehouse/lake/catalog.py)."""
    monkeypatch.setattr(catalog, "read_pointer", lambda _settings: None)


def test_register_tables_is_idempotent_and_repoints_moved_tables(no_pointer):
    server = _FakeTrino()
    settings = config.load("local", table_root="s3://lakehouse/a/tables")
    first = lakehouse_trino.register_tables(server, settings, log=lambda _: None)
    assert set(first.values()) == {"registered"}
    assert server.tables["silver.order_events"] == "s3://lakehouse/a/tables/silver/order_events"
    assert any(
        s.startswith("create schema if not exists gold with (location = 's3://lakehouse/a/tables/gold')")
        for s in server.statements
    )

    again = lakehouse_trino.register_tables(server, settings, log=lambda _: None)
    assert set(again.values()) == {"unchanged"}

    moved = config.load("local", table_root="s3://lakehouse/b/tables")
    third = lakehouse_trino.register_tables(server, moved, (tables.ANOMALIES,), log=lambda _: None)
    assert third == {"gold.anomalies": "re-registered"}
    assert server.tables["gold.anomalies"] == "s3://lakehouse/b/tables/gold/anomalies"


def test_register_tables_needs_tables_on_s3(tmp_path):
    with pytest.raises(ValueError, match="S3"):
        lakehouse_trino.register_tables(_FakeTrino(), config.load("embedded", data_dir=tmp_path))


def test_register_tables_follows_the_version_pointer(monkeypatch):
    server = _FakeTrino()
    settings = config.load("local", table_root="s3://lakehouse/a/tables")
    replayed = config.load("local", table_root="s3://lakehouse/a/tables", table_version="v2")
    pointer = {"version": "v2", "tables": {spec.name: storage.table_uri(replayed, spec) for spec in tables.ALL}}
    monkeypatch.setattr(catalog, "read_pointer", lambda _settings: pointer)
    lakehouse_trino.register_tables(server, settings, log=lambda _: None)
    assert server.tables["gold.order_metrics_5m"] == "s3://lakehouse/a/tables/_v/v2/gold/order_metrics_5m"


def test_register_names_the_derived_tables_not_written_yet_and_registers_them_once_they_are(
    no_pointer, monkeypatch, capsys
):
    import contextlib

    from deltalake import DeltaTable

    from lakehouse import cli

    server = _FakeTrino()
    written: set[str] = set()
    monkeypatch.setattr(lakehouse_trino, "connect", lambda: contextlib.nullcontext(server))
    monkeypatch.setattr(DeltaTable, "is_deltatable", staticmethod(lambda uri, storage_options=None: uri in written))
    monkeypatch.setenv("LAKEHOUSE_TABLE_ROOT", "s3://lakehouse/a/tables")
    register = ["trino", "register", "--profile", "local"]

    args = cli.build_parser().parse_args(register)
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "gold.orders_current: not written yet, not registered" in out and "lakehouse follow" in out
    assert "gold.orders_current" not in server.tables

    written.add("s3://lakehouse/a/tables/gold/orders_current")
    args = cli.build_parser().parse_args(register)
    assert args.func(args) == 0
    assert server.tables["gold.orders_current"] == "s3://lakehouse/a/tables/gold/orders_current"
    assert "gold.orders_current: not written" not in capsys.readouterr().out


def test_the_shell_is_trinos_own_cli_with_every_argument_passed_through(monkeypatch):
    from lakehouse import cli

    calls = []
    monkeypatch.setattr(lakehouse_trino.subprocess, "call", lambda command: calls.append(command) or 0)
    for argv in (
        ["trino", "shell", "--execute", "show tables from gold", "--output-format", "CSV"],
        ["trino", "shell", "--help"],
        ["trino", "shell"],
        ["trino", "query"],  # no statement: the same shell
    ):
        args = cli.build_parser().parse_args(argv)
        assert args.func(args) == 0
    script = str(lakehouse_trino.TRINO_SCRIPT)
    assert calls == [
        [script, "shell", "--execute", "show tables from gold", "--output-format", "CSV"],
        [script, "shell", "--help"],
        [script, "shell"],
        [script, "shell"],
    ]


def test_the_cli_jar_is_the_servers_version_from_the_checked_maven_cache():
    script = lakehouse_trino.TRINO_SCRIPT.read_text()
    assert 'maven_fetch io.trino trino-cli "$TRINO_VERSION" executable jar' in script
    assert '-jar "$jar" --server "$URL" --catalog "$TRINO_CATALOG" "$@"' in script
