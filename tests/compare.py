"""Compare a Delta table with the reference model's rows: every row, once, floats within tolerance."""

from __future__ import annotations

import math
from collections import Counter

from deltalake import DeltaTable

from lakehouse.lake.tables import TableSpec

REL_TOL = 1e-9


def read_rows(
    uri: str, spec: TableSpec, *, storage_options: dict | None = None, version: int | None = None
) -> list[dict]:
    table = DeltaTable(uri, storage_options=storage_options or {}, version=version)
    return table.to_pyarrow_table().to_pylist()


def non_finite(tables: dict[str, list[dict]]) -> list[tuple[str, str, float]]:
    """(table, column, value) of every NaN or infinite float in rows per table name."""
    return [
        (name, column, value)
        for name, rows in tables.items()
        for row in rows
        for column, value in row.items()
        if isinstance(value, float) and not math.isfinite(value)
    ]


def diff(
    spec: TableSpec, actual_rows: list[dict], expected: dict[tuple, dict], *, columns: list[str] | None = None
) -> list[str]:
    """Human-readable differences; empty when the table equals the model exactly once per key."""
    problems: list[str] = []
    keys = Counter(tuple(row[k] for k in spec.key) for row in actual_rows)
    duplicates = [k for k, n in keys.items() if n > 1]
    if duplicates:
        problems.append(f"{spec.name}: {len(duplicates)} duplicated keys, e.g. {duplicates[:3]}")
    actual = {tuple(row[k] for k in spec.key): row for row in actual_rows}
    missing = sorted(set(expected) - set(actual), key=str)
    extra = sorted(set(actual) - set(expected), key=str)
    if missing:
        problems.append(f"{spec.name}: {len(missing)} expected rows missing, e.g. {missing[:3]}")
    if extra:
        problems.append(f"{spec.name}: {len(extra)} unexpected rows, e.g. {[actual[k] for k in extra[:2]]}")
    check = columns or [c for c in spec.column_names() if any(c in row for row in list(expected.values())[:1])]
    mismatched = 0
    for key in set(actual) & set(expected):
        for column in check:
            if column not in expected[key]:
                continue
            a, e = actual[key][column], expected[key][column]
            if not _equal(a, e):
                mismatched += 1
                if mismatched <= 5:
                    problems.append(f"{spec.name} {key} {column}: pipeline {a!r} != model {e!r}")
    if mismatched > 5:
        problems.append(f"{spec.name}: {mismatched} mismatched values in all")
    return problems


def _equal(a, e) -> bool:
    if isinstance(e, float) and isinstance(a, (int, float)):
        return math.isclose(a, e, rel_tol=REL_TOL, abs_tol=1e-12)
    return a == e
