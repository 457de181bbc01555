"""The reference model computes either logic version, independently of the pipeline's code."""

from datetime import timedelta

from lakehouse import config, rules
from lakehouse.lake import tables
from lakehouse.sources import generator
from tests.reference import Model, amount_eur

GEN = generator.GeneratorConfig(minutes=12, orders_per_second=1.0)


def _model(**options) -> Model:
    return Model(generator.generate(GEN), rules.load(config.load("embedded").rules_file), **options)


def test_currency_versions_differ_only_on_foreign_currencies():
    fixed, buggy = _model(), _model(currency_version=1)
    enriched = tables.ORDERS_ENRICHED.name
    assert fixed.tables[enriched].keys() == buggy.tables[enriched].keys()
    for key, row in fixed.tables[enriched].items():
        wrong = buggy.tables[enriched][key]["amount_eur"]
        assert (wrong == row["amount_eur"]) == (row["currency"] == "EUR")
        assert wrong == amount_eur(row["amount"], row["currency"], 1)


def test_a_per_event_version_mixes_both_at_a_seam():
    fixed, buggy = _model(), _model(currency_version=1)
    events = sorted(fixed.tables[tables.ORDERS_ENRICHED.name].values(), key=lambda r: r["event_time"])
    seam = events[len(events) // 2]["event_time"]
    mixed = _model(currency_version=lambda e: 1 if e["ts_ms"] < seam.timestamp() * 1000 else 2)
    for key, row in mixed.tables[tables.METRICS_1M.name].items():
        if row["window_end"] <= seam:
            assert row == buggy.tables[tables.METRICS_1M.name][key]
        elif row["window_start"] >= seam:
            assert row == fixed.tables[tables.METRICS_1M.name][key]
    assert any(r["window_start"] < seam < r["window_end"] for r in mixed.tables[tables.METRICS_1M.name].values())
    assert seam - events[0]["event_time"] > timedelta(minutes=2)


def test_metrics_version_1_counts_customer_minutes_above_one_minute():
    fixed, buggy = _model(), _model(metrics_version=1)
    assert fixed.tables[tables.METRICS_1M.name] == buggy.tables[tables.METRICS_1M.name]
    more = 0
    for key, row in fixed.tables[tables.METRICS_5M.name].items():
        wrong = buggy.tables[tables.METRICS_5M.name][key]
        assert wrong["distinct_customers"] >= row["distinct_customers"]
        assert {k: v for k, v in wrong.items() if k != "distinct_customers"} == {
            k: v for k, v in row.items() if k != "distinct_customers"
        }
        more += wrong["distinct_customers"] > row["distinct_customers"]
    assert more > 0
