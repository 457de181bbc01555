"""The drills' bugs (tests/drill_bugs.py) still apply to the production code, and do what the
reference model's buggy versions assume."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from lakehouse import sql
from tests import drill_bugs
from tests.reference import amount_eur


def test_each_bug_applies_to_exactly_one_place_of_the_production_code(tmp_path):
    for bug in (drill_bugs.CURRENCY, drill_bugs.METRICS):
        target = tmp_path / bug.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((drill_bugs.REPO / bug.path).read_text())
        drill_bugs.apply(bug, tmp_path)
        text = target.read_text()
        for fixed, buggy in bug.edits:
            assert buggy in text and fixed not in text
        with pytest.raises(AssertionError, match="0 times"):
            drill_bugs.apply(bug, tmp_path)


def test_the_currency_bug_multiplies_by_the_rate_as_the_model_version_1(tmp_path):
    drill_bugs.checkout(drill_bugs.CURRENCY, tmp_path)
    spec = importlib.util.spec_from_file_location("buggy_currency", tmp_path / "udfs" / "currency.py")
    buggy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(buggy)
    assert buggy.to_eur(108.0, "USD") == 116.64 and buggy.to_eur(50.0, "EUR") == 50.0
    amounts = [19.99, 577.05, 1234.56, 0.5, 99.0]
    currencies = ["EUR", "USD", "GBP", "USD", "GBP"]
    batch = buggy._to_eur_batch(pd.Series(amounts), pd.Series(currencies)).tolist()
    assert batch == [amount_eur(a, c, 1) for a, c in zip(amounts, currencies, strict=False)]


def test_the_metrics_bug_counts_customer_minutes_in_the_rollups_only(tmp_path):
    root = drill_bugs.checkout(drill_bugs.METRICS, tmp_path)
    for name in ("lakehouse/pipeline/release.py", "jobs/orders_pipeline.py", "infra/flink/flink.sh"):
        assert (root / name).is_file()
    rollup = (root / drill_bugs.METRICS.path).read_text()
    assert "count(customer_id) as distinct_customers" in rollup
    assert "count(distinct customer_id) as distinct_customers" in sql.load(
        "flink/fct_order_metrics_rollup", window_minutes=5
    )
