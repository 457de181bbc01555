"""Currency conversion to EUR, the reporting currency.

``to_eur`` is the plain function (unit-tested); ``to_eur_udf`` builds its vectorized PyFlink
wrapper: orders cross into Python in Arrow batches, not row by row.

Two versions exist for the bug-fix drill (docs/RUNBOOK.md, "Stop with a savepoint, deploy a fix,
restore"): version 1 is the deliberately wrong conversion a job runs before the fix (it multiplies
by the rate instead of dividing), version 2 the fix and the default. Both are registered under the
same function name with the same types, so the plan, its operator uids and its state layout are
the same and a savepoint taken under version 1 restores under version 2.
"""

from __future__ import annotations

import pandas as pd

from lakehouse import contract

VERSIONS = (1, 2)
CURRENT_VERSION = 2


def to_eur(amount: float, currency: str, *, version: int = CURRENT_VERSION) -> float:
    """Convert ``amount`` in ``currency`` to EUR, rounded to the cent (version 2: the contract's)."""
    return _CONVERT[version](amount, currency)


def _multiply_bug(amount: float, currency: str) -> float:
    # The drill's bug: rates are units of currency per EUR, so multiplying goes the wrong way.
    return round(amount * contract.RATES_PER_EUR[currency], 2)


_CONVERT = {1: _multiply_bug, 2: contract.to_eur}


def _batch(convert, amount: pd.Series, currency: pd.Series) -> pd.Series:
    # Same arithmetic as to_eur, element by element, so batch and plain results are identical;
    # a currency without a rate gives NaN (staging lets only known currencies through).
    return pd.Series(
        [
            convert(a, c) if c in contract.RATES_PER_EUR else float("nan")
            for a, c in zip(amount.tolist(), currency.tolist(), strict=False)
        ],
        dtype="float64",
    )


def _to_eur_batch(amount: pd.Series, currency: pd.Series) -> pd.Series:
    return _batch(contract.to_eur, amount, currency)


def _to_eur_batch_v1(amount: pd.Series, currency: pd.Series) -> pd.Series:
    return _batch(_multiply_bug, amount, currency)


_BATCH = {1: _to_eur_batch_v1, 2: _to_eur_batch}


def to_eur_udf(version: int = CURRENT_VERSION):
    """The pandas UDF for a conversion version (module-level functions, so workers import them)."""
    from pyflink.table import DataTypes
    from pyflink.table.udf import udf

    if version not in _BATCH:
        raise ValueError(f"unknown currency UDF version {version}; expected one of {VERSIONS}")
    return udf(_BATCH[version], result_type=DataTypes.DOUBLE(), func_type="pandas")
