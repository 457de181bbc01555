import pandas as pd
import pytest

from udfs.currency import _to_eur_batch, to_eur


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [(100.0, "EUR", 100.0), (108.0, "USD", 100.0), (85.0, "GBP", 100.0), (10.0, "USD", 9.26), (0.01, "GBP", 0.01)],
)
def test_to_eur_converts_and_rounds_to_the_cent(amount, currency, expected):
    assert to_eur(amount, currency) == expected


def test_to_eur_rejects_an_unknown_currency():
    with pytest.raises(KeyError):
        to_eur(1.0, "XYZ")


def test_the_vectorized_wrapper_equals_the_plain_function():
    amounts = [19.99, 577.05, 1234.56, 0.5, 99.0]
    currencies = ["EUR", "USD", "GBP", "USD", "GBP"]
    batch = _to_eur_batch(pd.Series(amounts), pd.Series(currencies))
    assert batch.tolist() == [to_eur(a, c) for a, c in zip(amounts, currencies, strict=False)]


def test_the_wrapper_equals_the_reference_model():
    from tests.reference import amount_eur

    amounts = [19.99, 577.05, 1234.56, 0.5, 99.0]
    currencies = ["EUR", "USD", "GBP", "USD", "GBP"]
    batch = _to_eur_batch(pd.Series(amounts), pd.Series(currencies)).tolist()
    assert batch == [amount_eur(a, c, 2) for a, c in zip(amounts, currencies, strict=False)]


def test_the_vectorized_wrapper_rounds_exactly_like_the_plain_function_on_many_amounts():
    # Half cents and amounts whose x*100 is a rounding error away from one are where numpy's
    # rounding and Python's round() part ways: the wrapper must still agree with to_eur.
    import random

    rng = random.Random(20261130)
    amounts = [round(rng.uniform(0, 5_000), rng.choice((2, 3, 6))) for _ in range(20_000)]
    amounts += [1.005, 2.675, 0.125, 0.135, 1.115, 10.085, 1234.565, 0.0, 5e-3, 4_999.995]
    currencies = [rng.choice(("EUR", "USD", "GBP")) for _ in amounts]
    batch = _to_eur_batch(pd.Series(amounts), pd.Series(currencies)).tolist()
    assert batch == [to_eur(a, c) for a, c in zip(amounts, currencies, strict=True)]


def test_the_vectorized_wrapper_gives_nan_for_an_unknown_currency_and_keeps_the_index():
    batch = _to_eur_batch(pd.Series([10.0, 10.0], index=[7, 8]), pd.Series(["XYZ", "USD"], index=[7, 8]))
    assert batch.index.tolist() == [7, 8]
    assert pd.isna(batch[7]) and batch[8] == to_eur(10.0, "USD")
