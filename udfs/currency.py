"""Currency conversion to EUR, the reporting currency.

``to_eur`` is the plain function (unit-tested, used by the reference model); ``to_eur_udf`` is
its vectorized PyFlink wrapper: orders cross into Python in Arrow batches, not row by row.
"""

from __future__ import annotations

import pandas as pd
from pyflink.table import DataTypes
from pyflink.table.udf import udf

from lakehouse.contract import RATES_PER_EUR


def to_eur(amount: float, currency: str) -> float:
    """Convert ``amount`` in ``currency`` to EUR, rounded to the cent."""
    return round(amount / RATES_PER_EUR[currency], 2)


def _to_eur_batch(amount: pd.Series, currency: pd.Series) -> pd.Series:
    rates = currency.map(RATES_PER_EUR)
    # Same arithmetic as to_eur, element by element, so batch and plain results are identical.
    return pd.Series([round(a / r, 2) for a, r in zip(amount.tolist(), rates.tolist(), strict=False)], dtype="float64")


to_eur_udf = udf(_to_eur_batch, result_type=DataTypes.DOUBLE(), func_type="pandas")
