"""The daily report as the reference model says it should read, and an ordered row comparison
within a stated tolerance: shared by the Trino and the Spark batch-report tests."""

from __future__ import annotations

import math
from collections import defaultdict

from lakehouse.lake import tables
from tests.reference import Model

REL_TOL = 1e-9


def close_enough(actual, expected) -> bool:
    if isinstance(expected, float) and isinstance(actual, (int, float)):
        return math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=1e-9)
    return actual == expected


def compare_ordered(name: str, actual: list[dict], expected: list[dict], key: tuple[str, ...]) -> list[str]:
    """Differences between two ordered row lists: same keys in the same order, same values."""
    problems = []
    if actual and expected and set(actual[0]) != set(expected[0]):
        problems.append(f"{name}: columns {sorted(actual[0])} != expected {sorted(expected[0])}")
    actual_keys = [tuple(row[k] for k in key) for row in actual]
    expected_keys = [tuple(row[k] for k in key) for row in expected]
    if actual_keys != expected_keys:
        missing = [k for k in expected_keys if k not in set(actual_keys)]
        extra = [k for k in actual_keys if k not in set(expected_keys)]
        problems.append(
            f"{name}: {len(actual_keys)} rows, expected {len(expected_keys)}; "
            f"missing {missing[:3]}, unexpected {extra[:3]}"
            + ("" if missing or extra else "; same keys in another order")
        )
        return problems
    for a, e in zip(actual, expected, strict=True):
        for column, value in e.items():
            if not close_enough(a.get(column), value):
                problems.append(
                    f"{name} {tuple(e[k] for k in key)} {column}: got {a.get(column)!r}, expected {value!r}"
                )
    return problems[:20]


def _rows(model: Model, spec: tables.TableSpec) -> list[dict]:
    return list(model.tables[spec.name].values())


def expected_daily_report(model: Model) -> list[dict]:
    orders: dict[tuple, list[dict]] = defaultdict(list)
    for row in _rows(model, tables.ORDERS_ENRICHED):
        orders[(row["event_time"].date(), row["region"])].append(row)
    firings: dict[tuple, int] = defaultdict(int)
    for row in _rows(model, tables.ANOMALIES):
        firings[(row["window_start"].date(), row["region"])] += 1
    out = []
    for day, region in sorted(set(orders) | set(firings)):
        rows = orders.get((day, region), [])
        revenue = math.fsum(r["amount_eur"] for r in rows)
        out.append(
            {
                "day": day,
                "region": region,
                "orders": len(rows),
                "revenue_eur": revenue,
                "avg_order_value_eur": revenue / len(rows) if rows else None,
                "customers": len({r["customer_id"] for r in rows}),
                "anomalies": firings.get((day, region), 0),
            }
        )
    return out
