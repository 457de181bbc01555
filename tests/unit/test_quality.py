"""Quality gates on small Delta tables written from the reference model (no JVM): correct tables
pass, each corruption is reported by the expectation meant for it, and the version is marked."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from deltalake import CommitProperties, DeltaTable, write_deltalake

from lakehouse import cli, config, rules
from lakehouse.lake import read_model, storage, tables
from lakehouse.quality import gates as quality
from lakehouse.sources import generator
from tests.reference import Model

# 45 minutes: late events are generated only between minutes 20 and 25 (where the stream is dense).
GEN = generator.GeneratorConfig(minutes=45, orders_per_second=1.0, seed=11, late_ratio=0.02)


@pytest.fixture(scope="module")
def clean_lake(tmp_path_factory):
    """The model's tables written as Delta (version 0 each), the read model and the generated input files."""
    settings = config.load("embedded", data_dir=tmp_path_factory.mktemp("lake"))
    dataset = generator.generate(GEN)
    generator.write(dataset, settings.input_dir)
    model = Model(dataset, rules.load(settings.rules_file))
    for spec in tables.ALL:
        rows = [dict(row) for row in model.tables[spec.name].values()]
        if spec is tables.LATE_EVENTS:  # the model leaves the arrival watermark to the pipeline
            for row in rows:
                row["watermark_at_arrival"] = row["event_time"] + timedelta(minutes=10)
                row["lateness_seconds"] = 600
        write_deltalake(
            storage.table_uri(settings, spec),
            pa.Table.from_pylist(rows, schema=spec.arrow_schema()),
            partition_by=list(spec.partition_by) or None,
        )
    read_model.update_orders_current(settings)
    return settings


@pytest.fixture
def lake(clean_lake, tmp_path):
    """A private copy, free to corrupt."""
    shutil.copytree(clean_lake.data_dir, tmp_path / "lake")
    return config.load("embedded", data_dir=tmp_path / "lake")


def uri(settings, spec) -> str:
    return storage.table_uri(settings, spec)


def failed(report: quality.Report) -> set[str]:
    return {f"[{f.check}] {f.name}" for f in report.failures}


def test_every_table_of_a_correct_lakehouse_is_validated(clean_lake):
    assert quality.checked_tables(clean_lake) == [spec.name for spec in tables.ALL] + [read_model.ORDERS_CURRENT.name]
    for name in quality.checked_tables(clean_lake):
        report = quality.validate(clean_lake, name)
        assert report.success, report.render()
        assert not report.warnings and len(report.findings) >= 5
        assert all(f.rows > 0 for f in report.findings if f.unexpected is not None and f.check == "rows"), name
    # the cross-table checks really ran on rows
    enriched = quality.validate(clean_lake, tables.ORDERS_ENRICHED.name)
    assert {f.check for f in enriched.findings} >= {
        "rows",
        "customer_versions",
        "product_version_order",
        "dimension_history",
    }
    assert all(f.rows > 100 for f in enriched.findings if f.check == "dimension_history")


def test_a_duplicate_key_fails_and_marks_the_version(lake):
    assert quality.check(lake, tables.ORDER_EVENTS.name).success
    events = DeltaTable(uri(lake, tables.ORDER_EVENTS))
    write_deltalake(
        uri(lake, tables.ORDER_EVENTS), events.to_pyarrow_table().slice(10, 1), mode="append", partition_by=["dt"]
    )
    report = quality.check(lake, tables.ORDER_EVENTS.name)
    assert report.version == 1 and not report.success
    assert "[rows] (event_id) unique" in failed(report)
    assert "NOT VALIDATED" in report.render() and "(event_id) unique: 2 of" in report.render()
    assert quality.verdicts(lake, tables.ORDER_EVENTS.name) == {0: True, 1: False}
    assert quality.latest_validated_version(tables.ORDER_EVENTS.name, settings=lake) == 0
    recorded = quality.results(lake, [tables.ORDER_EVENTS.name]).iloc[0]
    assert (recorded["table_version"], recorded["success"], recorded["failed"]) == (1, False, len(report.failures))
    assert json.loads(recorded["failed_expectations"])[0]["examples"]


def test_a_negative_amount_fails(lake):
    table = DeltaTable(uri(lake, tables.ORDERS_ENRICHED))
    victim = table.to_pyarrow_table(columns=["event_id"]).column(0)[5].as_py()
    table.update(predicate=f"event_id = '{victim}'", updates={"amount": "-amount"})
    report = quality.check(lake, tables.ORDERS_ENRICHED.name)
    assert "[rows] amount > 0" in failed(report)
    assert "[rows] amount_eur_is_converted_amount" in failed(report)
    assert quality.latest_validated_version(tables.ORDERS_ENRICHED.name, settings=lake) is None


def test_a_broken_window_sum_fails(lake):
    one = DeltaTable(uri(lake, tables.METRICS_5M)).to_pyarrow_table().slice(3, 1).to_pylist()[0]
    DeltaTable(uri(lake, tables.METRICS_5M)).update(
        predicate=f"region = '{one['region']}' and category = '{one['category']}' "
        f"and window_start = '{one['window_start'].isoformat()}'",
        updates={"revenue_eur": "revenue_eur + 100", "avg_order_value_eur": "(revenue_eur + 100) / order_count"},
    )
    report = quality.check(lake, tables.METRICS_5M.name)
    assert failed(report) == {"[window_sums] revenue_is_sum_of_1m"}
    finding = next(f for f in report.failures)
    assert finding.unexpected == 1 and finding.examples[0]["region"] == one["region"]
    assert report.context["read_versions"] == {tables.METRICS_1M.name: 0}


def test_a_lost_minute_breaks_the_5m_and_1h_rollups(lake):
    DeltaTable(uri(lake, tables.METRICS_1M)).delete("window_start = '2026-01-01T00:07:00Z' and region = 'APAC'")
    for spec in (tables.METRICS_5M, tables.METRICS_1H):
        report = quality.validate(lake, spec.name)
        assert "[window_sums] order_count_is_sum_of_1m" in failed(report), report.render()
    assert quality.validate(lake, tables.METRICS_1M.name).success


def test_a_join_on_the_wrong_dimension_version_fails(lake):
    table = DeltaTable(uri(lake, tables.ORDERS_ENRICHED))
    table.update(
        predicate="customer_id = 'C0003'", updates={"customer_version_ms": "customer_version_ms + 2 * 86400000"}
    )
    table.update(predicate="product_id = 'P004'", updates={"category": "'garden'"})
    report = quality.validate(lake, tables.ORDERS_ENRICHED.name)
    assert {
        "[rows] customer_version_ms <= event_ms",
        "[dimension_history] customer_version_is_the_one_valid_at_event_time",
        "[dimension_history] product_attributes_match_that_version",
    } <= failed(report), report.render()


def test_the_lakehouse_alone_catches_one_version_with_two_sets_of_attributes(lake):
    shutil.rmtree(lake.input_dir)  # no generated history: only what the tables themselves say
    rows = DeltaTable(uri(lake, tables.ORDERS_ENRICHED)).to_pyarrow_table().to_pylist()
    victim = next(r for r in rows if sum(o["customer_id"] == r["customer_id"] for o in rows) > 1)
    DeltaTable(uri(lake, tables.ORDERS_ENRICHED)).update(
        predicate=f"event_id = '{victim['event_id']}'", updates={"region": "'MARS'"}
    )
    report = quality.validate(lake, tables.ORDERS_ENRICHED.name)
    assert "[customer_versions] (customer_id, customer_version_ms) unique" in failed(report), report.render()
    assert report.context["skipped"] == [f"dimension_history: no generated dimension files under {lake.input_dir}"]


def test_anomalies_must_match_their_rule_and_their_window(lake):
    table = DeltaTable(uri(lake, tables.ANOMALIES))
    table.update(predicate="rule_id = 'order_rate_drop_5m'", updates={"observed": "observed + 1000"})
    report = quality.validate(lake, tables.ANOMALIES.name)
    assert {
        "[rows] observed_crosses_threshold",
        "[vs_metrics] observed_is_the_window_metric",
    } <= failed(report), report.render()


def test_the_read_model_must_agree_with_the_event_log_it_was_folded_from(lake):
    report = quality.validate(lake, read_model.ORDERS_CURRENT.name)
    assert report.success and {f.check for f in report.findings} == {"rows", "vs_event_log"}
    table = DeltaTable(read_model.table_uri(lake))
    source = {"lakehouse.source_version": str(report.context["read_versions"][tables.ORDER_EVENTS.name])}
    compensated = table.to_pyarrow_table(columns=["order_id", "compensated"]).to_pylist()
    victim = next(r["order_id"] for r in compensated if r["compensated"])
    table.update(
        predicate=f"order_id = '{victim}'",
        updates={"compensated": "false"},
        commit_properties=CommitProperties(custom_metadata=source),
    )
    table.delete(
        f"order_id = '{compensated[0]['order_id']}'", commit_properties=CommitProperties(custom_metadata=source)
    )
    report = quality.validate(lake, read_model.ORDERS_CURRENT.name)
    assert {
        "[rows] compensated_iff_cancelled_after_payment",
        "[rows] refund_is_the_paid_amount_when_compensated",
        "[vs_event_log] order_in_read_model",
    } == failed(report), report.render()


def test_a_warning_is_reported_but_does_not_block():
    finding = quality.Finding(
        check="rows", name="x", expectation="e", description="d", severity="warning", success=False
    )
    report = quality.Report(
        table="t", version=1, suite="t/v1", checked_at=datetime.now(UTC), findings=[finding], context={}
    )
    assert report.success and report.warnings == [finding] and "WARN" in report.render()


def test_the_command_line_checks_and_reports(lake, capsys):
    DeltaTable(uri(lake, tables.METRICS_1H)).update(updates={"order_count": "order_count + 1"})
    argv = ["quality", "check", tables.METRICS_1H.name, tables.QUARANTINE.name, "--data-dir", str(lake.data_dir)]
    args = cli.build_parser().parse_args(argv)
    assert args.func(args) == 1
    out = capsys.readouterr().out
    assert "gold.order_metrics_1h version 1: NOT VALIDATED" in out and "order_count_is_sum_of_1m" in out
    assert "bronze.quarantine version 0: VALIDATED" in out
    args = cli.build_parser().parse_args(["quality", "status", "--data-dir", str(lake.data_dir)])
    assert args.func(args) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert lines[tables.METRICS_1H.name].split()[1:3] == ["1", "-"]
    assert lines[tables.QUARANTINE.name].split()[1:3] == ["0", "0"]
    assert "never checked" in lines[tables.ANOMALIES.name] and read_model.ORDERS_CURRENT.name in lines
