"""Loads the SQL statements kept in sql/ and fills their configuration placeholders.

Placeholders are ``{{name}}``. Only three kinds of value are filled: numbers from the contract,
connector option blocks built by ``with_options`` (each value quoted and escaped) and expressions
chosen from constants in the job code (a logic version), so a statement never carries a host or
secret pasted by hand.
"""

from __future__ import annotations

import re
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


def register_view(t_env, name: str, *, view: str | None = None, **values: object) -> None:
    """Register the query in ``sql/<name>.sql`` as a temporary view, named after the file.

    Registering the Table object (not a CREATE VIEW text) makes every consumer share one plan
    node, so the planner computes a view once even when several sinks read it.
    """
    view_name = view or name.rsplit("/", 1)[-1]
    t_env.create_temporary_view(view_name, t_env.sql_query(load(name, **values)))


def with_options(options: dict[str, str]) -> str:
    """Render connector options as the body of a WITH clause."""
    return ",\n".join(f"    '{_quote(k)}' = '{_quote(v)}'" for k, v in options.items())


def _quote(value: str) -> str:
    return str(value).replace("'", "''")
