"""Loads the SQL statements kept in sql/ and fills their configuration placeholders.

Placeholders are ``{{name}}``. Only three kinds of value are filled: numbers from the contract,
connector option blocks built by ``with_options`` (each value quoted and escaped) and expressions or
names chosen from constants in the job code (a logic version; the table, key and columns of a
statement two entities share), so a statement never carries a host or secret pasted by hand.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def load(name: str, **values: object) -> str:
    """Read ``sql/<name>.sql`` and fill every ``{{placeholder}}``; a missing value is an error."""
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")

    def fill(match: re.Match) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"sql/{name}.sql needs a value for {{{{{key}}}}}")
        return str(values[key])

    return _PLACEHOLDER.sub(fill, text)


def register_view(t_env, name: str, *, view: str | None = None, **values: object):
    """Register the query in ``sql/<name>.sql`` as a temporary view, named after the file; return it.

    Registering the Table object (not a CREATE VIEW text) makes every consumer share one plan
    node, so the planner computes a view once even when several sinks read it. The returned Table
    holds the query itself, so it outlives the view's name (``scope``), unlike ``from_path``.
    """
    view_name = view or name.rsplit("/", 1)[-1]
    table = t_env.sql_query(load(name, **values))
    t_env.create_temporary_view(view_name, table)
    return table


_SCOPES = itertools.count(1)


@contextmanager
def scope(t_env, name: str, inputs: Mapping[str, object]) -> Iterator[None]:
    """Resolve the names of a transform's statements among its own views only.

    Inside the block the current database is a new one of the current catalog, holding ``inputs``
    (name -> Table) as temporary views and whatever the block registers, so a statement can read
    only what its transform was given, and a view may be named like a table of the caller (the
    job's ``src_order_events`` source, say). Tables returned by ``sql_query`` are resolved when
    created, so they stay valid after the block drops its views and its database; one from
    ``from_path`` would not.
    """
    catalog = t_env.get_current_catalog()
    outer = t_env.get_current_database()
    database = f"{name}_{next(_SCOPES)}"
    t_env.execute_sql(f"create database `{catalog}`.`{database}`")
    t_env.use_database(database)
    try:
        for view, table in inputs.items():
            t_env.create_temporary_view(view, table)
        yield
    finally:
        for view in t_env.list_temporary_views():
            t_env.drop_temporary_view(view)
        t_env.use_database(outer)
        t_env.execute_sql(f"drop database `{catalog}`.`{database}`")


def with_options(options: dict[str, str]) -> str:
    """Render connector options as the body of a WITH clause."""
    return ",\n".join(f"    '{_quote(k)}' = '{_quote(v)}'" for k, v in options.items())


def _quote(value: str) -> str:
    return str(value).replace("'", "''")
