"""The backoffice writer: the generator's customer and product changes as real INSERT, UPDATE and
DELETE statements against PostgreSQL, so that the database's write-ahead log, read by Debezium, is
the change history the pipeline consumes.

Each change is its own transaction (one commit, one Debezium record). Snapshot rows (op r) are
inserted in one transaction before the connector exists, so Debezium's initial snapshot reads them.
Statements go to ``psql`` over TCP as the backoffice role; the password travels in the environment
(PGPASSWORD), never in argv. Values are rendered as SQL literals by ``_literal`` (strings quoted and
escaped, numbers checked), never pasted.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lakehouse.sources.cdc import CdcSettings
from lakehouse.sources.generator import Record

COLUMNS = {
    "customers": ("customer_id", "name", "region", "segment", "updated_at"),
    "products": ("product_id", "name", "category", "price", "updated_at"),
}


@dataclass(frozen=True, kw_only=True)
class Change:
    """One backoffice change: its valid-from time (epoch ms) and the statement that makes it."""

    table: str
    op: str
    key: str
    at_ms: int
    sql: str


def changes(records: Iterable[Record], *, schema: str = "backoffice") -> list[Change]:
    """Statements for a Debezium-shaped change stream (the generator's customers or products)."""
    out = []
    for record in records:
        envelope = json.loads(record.value)
        table = envelope["source"]["table"]
        columns = COLUMNS[table]
        key_column = columns[0]
        op = envelope["op"]
        row = envelope["after"] if op != "d" else envelope["before"]
        target = f"{schema}.{table}"
        if op in ("r", "c"):
            values = ", ".join(_value(column, row[column]) for column in columns)
            sql = f"insert into {target} ({', '.join(columns)}) values ({values});"
            at_ms = row["updated_at"]
        elif op == "u":
            assignments = ", ".join(f"{c} = {_value(c, row[c])}" for c in columns[1:])
            sql = f"update {target} set {assignments} where {key_column} = {_literal(row[key_column])};"
            at_ms = row["updated_at"]
        elif op == "d":
            sql = f"delete from {target} where {key_column} = {_literal(row[key_column])};"
            at_ms = envelope["ts_ms"]
        else:
            raise ValueError(f"unknown op {op!r} in {record.value[:200]}")
        out.append(Change(table=table, op=op, key=row[key_column], at_ms=at_ms, sql=sql))
    return out


def _value(column: str, value: object) -> str:
    if column == "updated_at":
        # Exact milliseconds, UTC: the column is timestamp(3) holding UTC by convention.
        return f"timestamp '1970-01-01 00:00:00' + {_literal(int(value))} * interval '1 millisecond'"
    return _literal(value)


def _literal(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value}")
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


class Backoffice:
    """Runs statements against the backoffice database as its writer role."""

    def __init__(self, cdc: CdcSettings) -> None:
        if not cdc.app_password:
            raise ValueError("POSTGRES_APP_PASSWORD is not set (the backoffice role's password)")
        self.cdc = cdc
        self.psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"

    def execute(self, sql: str, *, timeout: float = 60.0) -> str:
        """Run ``sql`` (statements autocommit, one transaction each); return psql's output."""
        env = {**os.environ, "PGPASSWORD": self.cdc.app_password, "PGCONNECT_TIMEOUT": "10"}
        result = subprocess.run(
            [self.psql, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", self.cdc.postgres_host,
             "-p", str(self.cdc.postgres_port), "-U", self.cdc.app_user, "-d", self.cdc.postgres_db],
            input=sql, capture_output=True, text=True, env=env, timeout=timeout,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}): {result.stderr.strip()[-500:]}")
        return result.stdout

    def apply(
        self,
        items: list[Change],
        *,
        changes_per_second: float | None = None,
        retry_seconds: float = 60.0,
        log: Callable[[str], None] = print,
    ) -> int:
        """Apply changes one transaction each, throttled; a lost connection (a database restart) is
        retried until ``retry_seconds`` pass, so a change is applied once or the writer fails."""
        interval = 1.0 / changes_per_second if changes_per_second else 0.0
        for n, change in enumerate(items, 1):
            started = time.monotonic()
            self._apply_one(change, retry_seconds)
            if n % 100 == 0:
                log(f"backoffice: {n}/{len(items)} changes applied")
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
        return len(items)

    def _apply_one(self, change: Change, retry_seconds: float) -> None:
        deadline = time.monotonic() + retry_seconds
        while True:
            try:
                self.execute(change.sql)
                return
            except RuntimeError as error:
                # Only a connection failure is retried: the statement never reached the database.
                if "connection" not in str(error).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
