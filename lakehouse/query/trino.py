"""Trino on the lakehouse's Delta tables: register them, run SQL, print results as aligned tables.

Trino reads the same Delta tables the pipeline writes, on S3, with the read-only identity
(infra/trino/trino.sh). A table becomes queryable once registered in Trino's metastore:
``register_tables`` does that for every table of ``lakehouse.lake.tables`` and is idempotent (a table
already registered at the same location is left alone; one registered elsewhere, for example by a
test run with its own table root, is re-pointed). Reports live in ``sql/trino/``, one per file;
they name tables without a catalog (``silver.order_events``), and the connection's catalog
(``delta`` unless TRINO_CATALOG says otherwise) resolves them. ``lakehouse trino shell`` is
Trino's own CLI (the executable jar of the server's version, from infra/trino/trino.sh).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from lakehouse import sql
from lakehouse.config import Settings, TrinoSettings
from lakehouse.lake import catalog, tables

REPORTS_DIR = sql.SQL_DIR / "trino"
TRINO_SCRIPT = Path(__file__).resolve().parents[2] / "infra" / "trino" / "trino.sh"
LAYERS = ("bronze", "silver", "gold")


def connect(trino_settings: TrinoSettings | None = None, *, schema: str | None = None):
    """A DB-API connection to Trino (the `trino` client), catalog set, HTTP on loopback."""
    import trino

    ts = trino_settings or TrinoSettings.from_env()
    return trino.dbapi.connect(
        host=ts.host,
        port=ts.port,
        user=ts.user,
        catalog=ts.catalog,
        schema=schema,
        http_scheme="http",
        request_timeout=ts.request_timeout,
    )


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple]

    def dicts(self) -> list[dict]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def query(conn, statement: str, params: Sequence | None = None) -> Result:
    """Run one statement and fetch every row (reports here are small)."""
    cursor = conn.cursor()
    try:
        cursor.execute(statement.strip().rstrip(";"), params)
        rows = [tuple(row) for row in cursor.fetchall()]
        columns = [d[0] for d in cursor.description or ()]
        return Result(columns, rows)
    finally:
        cursor.close()


# --- registration ---------------------------------------------------------------------------
def table_location(settings: Settings, spec: tables.TableSpec) -> str:
    """The table's location as Trino sees it: the version readers are pointed at (lakehouse/lake/catalog.py)."""
    return catalog.resolve(settings, spec)


def _literal(value: str) -> str:
    """A SQL string literal. Values here are schema names and s3:// locations, never secrets."""
    return "'" + value.replace("'", "''") + "'"


_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*")
_LOCATION = re.compile(r"location\s*=\s*'((?:[^']|'')*)'", re.IGNORECASE)


def registered_tables(conn, layers: Iterable[str] = LAYERS) -> set[str]:
    """Names (layer.table) of the tables Trino's metastore knows in these schemas."""
    layers = list(layers)
    marks = ", ".join("?" for _ in layers)
    listed = query(
        conn, f"select table_schema, table_name from information_schema.tables where table_schema in ({marks})", layers
    )
    return {f"{schema}.{table}" for schema, table in listed.rows}


def registered_location(conn, spec: tables.TableSpec) -> str | None:
    """Where Trino's metastore says a registered table is (from SHOW CREATE TABLE).

    Raises when Trino cannot read the table (e.g. its files are gone).
    """
    ddl = query(conn, f"show create table {spec.layer}.{spec.short_name}").rows[0][0]
    match = _LOCATION.search(ddl)
    return match.group(1).replace("''", "'") if match else None


def register_tables(
    conn,
    settings: Settings,
    specs: Iterable[tables.TableSpec] = tables.ALL,
    *,
    log: Callable[[str], None] = print,
) -> dict[str, str]:
    """Register every table in Trino (schemas created if missing); returns what happened per table.

    Idempotent: "unchanged" when already registered at this location, "registered" when new,
    "re-registered" when it pointed elsewhere or could not be read.
    """
    if not settings.tables_uri().startswith("s3://"):
        raise ValueError(
            f"Trino reads the tables from S3, but the table root is {settings.tables_uri()!r}: "
            "use --profile local (or LAKEHOUSE_TABLE_ROOT=s3://...)"
        )
    specs = tuple(specs)
    for layer in sorted({spec.layer for spec in specs}):
        # A schema located on S3, so a table created in it would be written there, which the
        # read-only identity cannot do: Trino stays a reader. (Without a location, new tables
        # would land in the metastore's directory on local disk.)
        location = f"{settings.tables_uri()}/{layer}"
        query(conn, f"create schema if not exists {layer} with (location = {_literal(location)})")
    known = registered_tables(conn, {spec.layer for spec in specs})
    outcome: dict[str, str] = {}
    for spec in specs:
        wanted = table_location(settings, spec)
        try:
            current = registered_location(conn, spec) if spec.name in known else None
        except Exception as error:  # noqa: BLE001 - a registration whose files are unreadable
            log(f"{spec.name}: registered but unreadable ({_first_line(error)}): re-registering")
            current = "<unreadable>"
        if current is not None and current.rstrip("/") == wanted:
            outcome[spec.name] = "unchanged"
            continue
        if current is not None:
            query(
                conn,
                f"call system.unregister_table(schema_name => {_literal(spec.layer)}, "
                f"table_name => {_literal(spec.short_name)})",
            )
        query(
            conn,
            f"call system.register_table(schema_name => {_literal(spec.layer)}, "
            f"table_name => {_literal(spec.short_name)}, table_location => {_literal(wanted)})",
        )
        outcome[spec.name] = "registered" if current is None else "re-registered"
        log(f"{spec.name}: {outcome[spec.name]} at {wanted}")
    return outcome


def _first_line(error: BaseException) -> str:
    text = getattr(error, "message", None) or str(error)
    return text.splitlines()[0] if text else type(error).__name__


# --- reports --------------------------------------------------------------------------------
def report_names() -> list[str]:
    return sorted(path.stem for path in REPORTS_DIR.glob("*.sql"))


def load_report(name: str) -> str:
    """The SQL text of ``sql/trino/<name>.sql`` (name with or without .sql)."""
    name = Path(name).stem
    if not (REPORTS_DIR / f"{name}.sql").exists():
        raise KeyError(f"no report {name!r}; known: {', '.join(report_names())}")
    return sql.load(f"trino/{name}")


def pin_versions(statement: str, versions: dict[str, int]) -> str:
    """Read the named tables at fixed Delta versions: ``silver.x`` -> ``silver.x for version as of N``.

    Only exact ``layer.table`` references are rewritten (not ``"table$history"`` metadata tables),
    so a report runs unchanged against pinned versions, e.g. those a batch job read.
    """
    for name, version in versions.items():
        if not _TABLE_NAME.fullmatch(name):
            raise ValueError(f"expected a table name like silver.order_events, got {name!r}")
        layer, table = name.split(".")
        pattern = re.compile(rf'(?<![\w."]){layer}\.{table}(?![\w"$])', re.IGNORECASE)
        statement = pattern.sub(f"{layer}.{table} for version as of {int(version)}", statement)
    return statement


# --- output ---------------------------------------------------------------------------------
def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ", timespec="milliseconds" if value.microsecond else "seconds")
        return text.replace("+00:00", " UTC")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def format_table(result: Result, *, max_width: int = 60) -> str:
    """Rows as an aligned text table: numbers right-aligned, long text cut at max_width."""
    cells = [[_cell(v) for v in row] for row in result.rows]
    cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
    numeric = [
        all(
            isinstance(row[i], (int, float)) and not isinstance(row[i], bool)
            for row in result.rows
            if row[i] is not None
        )
        and any(row[i] is not None for row in result.rows)
        for i in range(len(result.columns))
    ]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(result.columns)]

    def line(values: list[str]) -> str:
        return " | ".join(
            v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [line(list(result.columns)), "-+-".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    out.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(out)


def shell(cli_args: Sequence[str] = ()) -> int:
    """Trino's own CLI, interactive unless ``cli_args`` say otherwise; returns its exit code."""
    return subprocess.call([str(TRINO_SCRIPT), "shell", *cli_args])
