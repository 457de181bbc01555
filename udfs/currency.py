"""Currency conversion to EUR, the reporting currency.

``to_eur`` is the plain function (unit-tested); ``to_eur_udf`` builds its vectorized PyFlink
wrapper: orders cross into Python in Arrow batches, not row by row. The bug-fix drill's wrong
conversion is not here: the drill deploys it from the test side (tests/drill_bugs.py).
"""

from __future__ import annotations

import pandas as pd

from lakehouse import contract


def to_eur(amount: float, currency: str) -> float:
    """Convert ``amount`` in ``currency`` to EUR, rounded to the cent (the contract's rates)."""
    return contract.to_eur(amount, currency)


def _to_eur_batch(amount: pd.Series, currency: pd.Series) -> pd.Series:
    # to_eur element by element, so batch and plain results are identical; a currency without a
    # rate gives NaN (staging lets only known currencies through).
    return pd.Series(
        [
            to_eur(a, c) if c in contract.RATES_PER_EUR else float("nan")
            for a, c in zip(amount.tolist(), currency.tolist(), strict=False)
        ],
        dtype="float64",
    )


def to_eur_udf():
    """The pandas UDF of ``to_eur`` (a module-level function, so workers import it)."""
    from pyflink.table import DataTypes
    from pyflink.table.udf import udf

    return udf(_to_eur_batch, result_type=DataTypes.DOUBLE(), func_type="pandas")
