"""The training set: features and labels on small fixed rows, pinned versions, exact rebuilds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse import cli, config, rules
from lakehouse.lake import storage, tables
from lakehouse.ml import training
from lakehouse.quality import gates as quality
from lakehouse.sources import generator
from tests.reference import Model

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ts(minute: float) -> pd.Timestamp:
    return pd.Timestamp(T0 + timedelta(minutes=minute))


def metric_rows(level_minutes: int, rows: list[tuple]) -> pd.DataFrame:
    """(minute, region, category, order_count, revenue) -> metrics rows."""
    out = []
    for minute, region, category, count, revenue in rows:
        out.append(
            {
                "window_start": ts(minute),
                "window_end": ts(minute + level_minutes),
                "region": region,
                "category": category,
                "order_count": count,
                "revenue_eur": revenue,
                "avg_order_value_eur": revenue / count,
                "distinct_customers": count,
                "min_amount_eur": revenue / count,
                "max_amount_eur": revenue / count,
            }
        )
    return pd.DataFrame(out)


def anomaly_rows(rows: list[tuple]) -> pd.DataFrame:
    """(rule_id, level, start minute, length, region, category) -> anomalies rows."""
    return pd.DataFrame(
        [
            {
                "rule_id": rule,
                "level": level,
                "window_start": ts(start),
                "window_end": ts(start + length),
                "region": region,
                "category": category,
            }
            for rule, level, start, length, region, category in rows
        ]
    )


def enriched_rows(rows: list[tuple]) -> pd.DataFrame:
    """(minute, region, category, quantity, segment, currency, product) -> enriched rows."""
    return pd.DataFrame(
        [
            {
                "event_time": ts(minute),
                "event_id": f"E{i}",
                "region": region,
                "category": category,
                "quantity": quantity,
                "segment": segment,
                "currency": currency,
                "product_id": product,
            }
            for i, (minute, region, category, quantity, segment, currency, product) in enumerate(rows)
        ]
    )


M1 = metric_rows(1, [(0, "EU", "books", 2, 20.0), (3, "EU", "books", 1, 40.0), (5, "EU", "books", 1, 10.0)])
M5 = metric_rows(
    5, [(0, "EU", "books", 3, 60.0), (5, "EU", "books", 1, 10.0), (0, "NA", "home", 1, 5.0), (15, "NA", "home", 2, 8.0)]
)
ENRICHED = enriched_rows(
    [
        (0.5, "EU", "books", 1, "business", "EUR", "P1"),
        (0.7, "EU", "books", 3, "consumer", "USD", "P2"),
        (3.2, "EU", "books", 2, "consumer", "EUR", "P1"),
    ]
)
ANOMALIES = anomaly_rows(
    [
        ("spike_1m", "1m", 7, 1, "EU", "books"),  # inside 05-10: the label of the 00-05 window
        ("drop_5m", "5m", 5, 5, "NA", "home"),  # the 05-10 window itself: label of NA/home 00-05
        ("spike_1m", "1m", 3, 1, "EU", "books"),  # inside 00-05: a feature of that window, a label of none shown
        ("hourly", "1h", 0, 60, "EU", "books"),  # spans twelve windows: neither feature nor label
    ]
)


def frame(**kwargs) -> pd.DataFrame:
    return training.build_frame(M1, M5, ENRICHED, ANOMALIES, **kwargs).set_index(["window_start", "region", "category"])


def test_one_row_per_window_and_dimension_with_zeros_where_nothing_happened():
    f = frame()
    # windows 00, 05, 10 (15 is the last: its next window is unknown) x 2 dimensions
    assert len(f) == 6
    assert f.loc[(ts(10), "EU", "books"), "order_count"] == 0
    assert f.loc[(ts(10), "EU", "books"), "revenue_eur"] == 0
    assert pd.isna(f.loc[(ts(10), "EU", "books"), "avg_order_value_eur"])
    assert ts(15) not in f.index.get_level_values(0)


def test_features_come_from_the_window_and_the_ones_before():
    row = frame().loc[(ts(0), "EU", "books")]
    assert (row["order_count"], row["revenue_eur"], row["active_minutes"]) == (3, 60.0, 2)
    assert (row["revenue_1m_max"], row["revenue_1m_last"], row["revenue_1m_trend"]) == (40.0, 0.0, -20.0)
    assert row["revenue_1m_std"] == pytest.approx(pd.Series([20.0, 0, 0, 40.0, 0]).std(ddof=0))
    assert (row["mean_quantity"], row["max_quantity"], row["distinct_products"]) == (2.0, 3, 2)
    assert row["share_business"] == pytest.approx(1 / 3) and row["share_non_eur"] == pytest.approx(1 / 3)
    assert row["anomalies_in_window"] == 1  # spike_1m at minute 3; the 1h firing is not counted
    assert pd.isna(row["revenue_prev"])
    second = frame().loc[(ts(5), "EU", "books")]
    assert (second["revenue_prev"], second["order_count_prev"], second["revenue_change"]) == (60.0, 3, -50.0)
    assert second["revenue_vs_trailing_3"] == pytest.approx(10.0 / 60.0)


def test_the_label_is_an_anomaly_in_the_next_window_for_the_same_dimension():
    f = frame()
    assert f["label"].to_dict() == {
        (ts(0), "EU", "books"): 1,  # spike_1m at 07
        (ts(0), "NA", "home"): 1,  # drop_5m on 05-10
        (ts(5), "EU", "books"): 0,
        (ts(5), "NA", "home"): 0,
        (ts(10), "EU", "books"): 0,
        (ts(10), "NA", "home"): 0,
    }
    assert f.loc[(ts(0), "EU", "books"), "next_rules"] == "spike_1m"
    only_drop = training.build_frame(M1, M5, ENRICHED, ANOMALIES, label_rules=["drop_5m"])
    assert only_drop["label"].tolist() == [0, 1, 0, 0, 0, 0]


def test_content_hash_ignores_row_order_but_not_values():
    df = M5.copy()
    same = training.content_hash(df.iloc[::-1], sort_by=["window_start", "region", "category"])
    assert same == training.content_hash(df, sort_by=["window_start", "region", "category"])
    df.loc[0, "revenue_eur"] += 0.01
    assert training.content_hash(df, sort_by=["window_start", "region", "category"]) != same


# --- on Delta tables -------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path):
    s = config.load("embedded", data_dir=tmp_path / "lake")
    model = Model(
        generator.generate(generator.GeneratorConfig(minutes=25, orders_per_second=1.0)), rules.load(s.rules_file)
    )
    for spec in training.SOURCES:
        rows = list(model.tables[spec.name].values())
        write_deltalake(
            storage.table_uri(s, spec),
            pa.Table.from_pylist(rows, schema=spec.arrow_schema()),
            partition_by=list(spec.partition_by) or None,
        )
    return s


def test_a_training_set_is_rebuilt_identically_from_its_manifest(settings, tmp_path):
    manifest = training.build_training_set(settings, tmp_path / "set")
    assert set(manifest["sources"]) == {spec.name for spec in training.SOURCES}
    assert all(pin["version"] == 0 and pin["rows"] > 0 for pin in manifest["sources"].values())
    data, stored = training.load_training_set(tmp_path / "set")
    assert stored == manifest and len(data) == manifest["output"]["rows"] > 0
    assert manifest["output"]["positives"] == int(data["label"].sum())

    # The sources move on; the manifest still pins the versions it read.
    more = M5.assign(region="ZZ")
    write_deltalake(
        storage.table_uri(settings, tables.METRICS_5M),
        pa.Table.from_pandas(more, schema=tables.METRICS_5M.arrow_schema(), preserve_index=False),
        mode="append",
    )
    rebuilt = training.rebuild_from_manifest(tmp_path / "set" / "manifest.json", tmp_path / "again")
    assert training.same_build(manifest, rebuilt)
    again, _ = training.load_training_set(tmp_path / "again")
    pd.testing.assert_frame_equal(again, data)
    assert (tmp_path / "again" / "training.parquet").read_bytes() == (
        tmp_path / "set" / "training.parquet"
    ).read_bytes()

    latest = training.build_training_set(settings, tmp_path / "latest")
    assert latest["sources"][tables.METRICS_5M.name]["version"] == 1
    assert latest["output"]["content_sha256"] != manifest["output"]["content_sha256"]


def test_a_rebuild_refuses_sources_that_changed(settings, tmp_path):
    training.build_training_set(settings, tmp_path / "set")
    path = tmp_path / "set" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["sources"][tables.ANOMALIES.name]["content_sha256"] = "0" * 64  # as if rewritten since
    path.write_text(json.dumps(manifest))
    with pytest.raises(training.ManifestMismatch, match="gold.anomalies"):
        training.rebuild_from_manifest(path, tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_validated_only_reads_the_latest_validated_versions(settings, tmp_path):
    with pytest.raises(LookupError, match="no validated version"):
        training.pin_sources(settings, validated_only=True)
    uri = quality.ensure_results_table(settings)
    verdicts = [(spec.name, 0, True) for spec in training.SOURCES] + [(tables.METRICS_5M.name, 1, False)]
    write_deltalake(
        uri,
        pa.Table.from_pylist(
            [
                {"table_name": t, "table_version": v, "suite": quality.suite_name(t), "success": ok, "checked_at": T0}
                for t, v, ok in verdicts
            ],
            schema=quality.QUALITY_RESULTS.arrow_schema(),
        ),
        mode="append",
    )
    write_deltalake(
        storage.table_uri(settings, tables.METRICS_5M),
        pa.Table.from_pandas(M5, schema=tables.METRICS_5M.arrow_schema(), preserve_index=False),
        mode="append",
    )
    assert DeltaTable(storage.table_uri(settings, tables.METRICS_5M)).version() == 1
    assert training.pin_sources(settings, validated_only=True) == {spec.name: 0 for spec in training.SOURCES}
    manifest = training.build_training_set(settings, tmp_path / "set", validated_only=True)
    assert manifest["params"]["validated_only"] is True


def test_the_command_line_builds_and_rebuilds(settings, tmp_path, capsys):
    out = tmp_path / "cli-set"
    args = cli.build_parser().parse_args(
        ["training-set", "build", "--data-dir", str(settings.data_dir), "--out", str(out)]
    )
    assert args.func(args) == 0
    args = cli.build_parser().parse_args(
        ["training-set", "rebuild", str(out / "manifest.json"), "--data-dir", str(settings.data_dir)]
    )
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "identical to the manifest's training set" in text
    assert (tmp_path / "cli-set_rebuilt" / "training.parquet").exists()


def test_no_anomaly_at_all_gives_every_window_a_zero_label():
    f = training.build_frame(M1, M5, ENRICHED, ANOMALIES.iloc[0:0])
    assert len(f) == 6 and f["label"].sum() == 0 and (f["next_rules"] == "").all()
    assert (f["anomalies_in_window"] == 0).all()
