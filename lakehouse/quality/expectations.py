"""The vocabulary the quality suites are written in: a ``Check`` (a frame and its expectations), the
``Inputs`` a suite reads, great-expectations constructors that give every expectation a name and a
sentence, and the derived columns (epoch milliseconds, float closeness) checks compare."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
from great_expectations.expectations.row_conditions import Column as Col

from lakehouse.config import Settings

REL_TOL = 1e-9  # the window levels roll up the same partials; sums agree to float rounding


@dataclass(kw_only=True)
class Check:
    """One frame and the expectations it must meet; ``index`` columns identify failing rows."""

    name: str
    frame: pd.DataFrame
    expectations: list
    index: list[str]


@dataclass(kw_only=True)
class Inputs:
    """What a suite may read: the table at the version under test, and its neighbours."""

    settings: Settings
    table: str
    version: int
    frame: pd.DataFrame
    load: Callable[..., pd.DataFrame]  # load(table, version=None): another table (versions read go to context)
    commit_metadata: dict = field(default_factory=dict)  # the tested version's commitInfo
    context: dict = field(default_factory=dict)


# --- expectation helpers: a name (meta) and a sentence (description) for every expectation -----


def named(expectation_cls, name: str, description: str, **kwargs):
    return expectation_cls(meta={"name": name}, description=description, **kwargs)


def _when(when: tuple[str, str, str] | None) -> tuple[dict, str]:
    """A row condition (column, "==" or "!=", value) as great-expectations kwargs and as words."""
    if when is None:
        return {}, ""
    column, op, value = when
    condition = Col(column) == value if op == "==" else Col(column) != value
    return {"row_condition": condition}, f" when {column} {op} {value}"


def not_null(*columns: str, when: tuple[str, str, str] | None = None) -> list:
    condition, suffix = _when(when)
    return [
        named(
            gxe.ExpectColumnValuesToNotBeNull,
            f"{c} not null{suffix}",
            f"every row has a {c}{suffix}",
            column=c,
            **condition,
        )
        for c in columns
    ]


def unique(*columns: str, when: tuple[str, str, str] | None = None, why: str = "the table's grain") -> object:
    condition, suffix = _when(when)
    name = f"({', '.join(columns)}) unique{suffix}"
    description = f"no two rows share ({', '.join(columns)}){suffix}: {why}"
    if len(columns) == 1:
        return named(gxe.ExpectColumnValuesToBeUnique, name, description, column=columns[0], **condition)
    return named(gxe.ExpectCompoundColumnsToBeUnique, name, description, column_list=list(columns), **condition)


def in_set(column: str, values) -> object:
    values = sorted(values)
    return named(
        gxe.ExpectColumnValuesToBeInSet,
        f"{column} in {values}",
        f"{column} is one of {values}",
        column=column,
        value_set=values,
    )


def at_least(column: str, minimum: float, *, strict: bool = False) -> object:
    op = ">" if strict else ">="
    return named(
        gxe.ExpectColumnValuesToBeBetween,
        f"{column} {op} {minimum:g}",
        f"every non-null {column} is {op} {minimum:g}",
        column=column,
        min_value=minimum,
        strict_min=strict,
    )


def at_most(column: str, maximum: float) -> object:
    return named(
        gxe.ExpectColumnValuesToBeBetween,
        f"{column} <= {maximum:g}",
        f"{column} is at most {maximum:g}",
        column=column,
        max_value=maximum,
    )


def holds(column: str, description: str, *, severity: str = "critical") -> object:
    """A derived boolean column, named for what it asserts, must be true on every row."""
    return named(
        gxe.ExpectColumnValuesToBeInSet,
        column,
        description,
        column=column,
        value_set=[True],
        severity=severity,
    )


def not_after(earlier: str, later: str, description: str) -> object:
    return named(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB,
        f"{earlier} <= {later}",
        description,
        column_A=later,
        column_B=earlier,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


# --- derived columns --------------------------------------------------------------------------


def epoch_ms(series: pd.Series) -> pd.Series:
    return (series.dt.tz_convert("UTC").astype("int64") // _UNITS_PER_MS[series.dt.unit]).astype("int64")


_UNITS_PER_MS = {"s": 1 / 1000, "ms": 1, "us": 1000, "ns": 1_000_000}


def close(a: pd.Series, b: pd.Series, *, rel: float = REL_TOL) -> pd.Series:
    return (a - b).abs() <= rel * np.maximum(1.0, np.maximum(a.abs(), b.abs()))


def dt_matches(frame: pd.DataFrame) -> pd.Series:
    return frame["dt"] == frame["event_time"].dt.strftime("%Y-%m-%d")
