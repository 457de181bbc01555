"""Currency conversion to EUR, the reporting currency.

``to_eur`` is the plain function (unit-tested); ``to_eur_udf`` builds its vectorized PyFlink
wrapper: orders cross into Python in Arrow batches, not row by row. The bug-fix drill's wrong
conversion is not here: the drill deploys it from the test side (tests/drill_bugs.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lakehouse import contract


def to_eur(amount: float, currency: str) -> float:
    """Convert ``amount`` in ``currency`` to EUR, rounded to the cent (the contract's rates)."""
    return contract.to_eur(amount, currency)


def _to_eur_batch(amount: pd.Series, currency: pd.Series) -> pd.Series:
    """``to_eur`` over a whole Arrow batch at once; equal to it element by element.

    numpy rounds ``x * 100`` half to even, where Python's ``round`` rounds the exact binary value of
    ``x``: the two differ only when ``x * 100`` lies within a rounding error of a half cent, so those
    few elements go through ``to_eur`` itself. A currency without a rate gives NaN (staging lets
    only known currencies through).
    """
    rates = currency.map(contract.RATES_PER_EUR).to_numpy(dtype="float64", na_value=np.nan)
    exact = amount.to_numpy(dtype="float64", na_value=np.nan) / rates
    cents = np.round(exact, 2)
    scaled = exact * 100
    near_half = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    for i in np.flatnonzero(near_half):
        cents[i] = to_eur(float(amount.iloc[i]), str(currency.iloc[i]))
    return pd.Series(cents, index=amount.index, dtype="float64")


def to_eur_udf():
    """The pandas UDF of ``to_eur`` (a module-level function, so workers import it)."""
    from pyflink.table import DataTypes
    from pyflink.table.udf import udf

    return udf(_to_eur_batch, result_type=DataTypes.DOUBLE(), func_type="pandas")
