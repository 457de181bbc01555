"""The embedded pipeline on the Flink mini-cluster, compared with the reference model.

One scenario, in order: a run stopped abruptly after its first commits, a second run over the same
tables (it resumes from the first run's last retained checkpoint: the job's Delta sink skips what
that checkpoint had already committed), then a third run of the same input (a re-run, which finds
the input committed and does nothing). After each full run every table must equal the reference
model exactly once per key.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from deltalake import DeltaTable

from lakehouse import config, rules
from lakehouse.lake import storage, tables
from lakehouse.pipeline import embedded
from lakehouse.sources import generator
from tests.compare import diff, read_rows
from tests.reference import Model

pytestmark = pytest.mark.integration

# The demo's input: about 235,000 events over an hour of event time, with every defect, dimension
# change and injected anomaly, at the rates the shipped anomaly rules are tuned for.
GEN = generator.GeneratorConfig()


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    s = config.load("embedded", data_dir=tmp_path_factory.mktemp("embedded"), checkpoint_interval_ms=3000)
    embedded.prepare_input(s, GEN)
    return s


@pytest.fixture(scope="module")
def model(settings):
    return Model(generator.generate(GEN), rules.load(settings.rules_file))


def _assert_tables_match(settings, model) -> dict[str, int]:
    counts, problems = {}, []
    for spec in tables.ALL:
        rows = read_rows(storage.table_uri(settings, spec), spec)
        counts[spec.name] = len(rows)
        problems += diff(spec, rows, model.tables[spec.name])
    assert not problems, "\n".join(problems)
    return counts


@pytest.fixture(scope="module")
def restarted_run(settings):
    # The job needs only about 15 s for the whole input: checkpoint and poll every second so that
    # the first commit, and the cancel after it, come while it is still running.
    first = embedded.run_pipeline(
        replace(settings, checkpoint_interval_ms=1000),
        poll_seconds=1.0,
        stop_when=lambda inserted: inserted["silver.order_events"] > 0,
    )
    assert 0 < first["silver.order_events"] < 200_000, "the first run must stop part-way"
    assert embedded.RunRecord(settings).latest_checkpoint() is not None, "the cancelled run left a checkpoint"
    second = embedded.run_pipeline(settings)
    return first, second


def test_a_restarted_run_writes_every_row_exactly_once(settings, model, restarted_run):
    first, second = restarted_run
    counts = _assert_tables_match(settings, model)
    print(f"checked against the reference model: {counts}")
    assert counts["silver.order_events"] == first["silver.order_events"] + second["silver.order_events"]
    # Everything the model expects is there and nothing else: the non-empty tables prove it.
    for name in ("bronze.quarantine", "bronze.late_events", "silver.orders_enriched", "gold.anomalies"):
        assert counts[name] > 0, f"{name} is empty: the test would not catch a loss"


def test_a_second_run_of_the_same_input_adds_no_row(settings, model, restarted_run):
    versions = {spec.name: DeltaTable(storage.table_uri(settings, spec)).version() for spec in tables.ALL}
    lines: list[str] = []
    inserted = embedded.run_pipeline(settings, log=lines.append)
    assert any("already committed" in line for line in lines), lines
    assert inserted == {spec.name: 0 for spec in tables.ALL}
    assert versions == {spec.name: DeltaTable(storage.table_uri(settings, spec)).version() for spec in tables.ALL}
    _assert_tables_match(settings, model)


def test_enrichment_follows_a_region_change_in_the_middle_of_the_stream(settings, model, restarted_run):
    rows = read_rows(storage.table_uri(settings, tables.ORDERS_ENRICHED), tables.ORDERS_ENRICHED)
    regions_per_customer: dict[str, set[str]] = {}
    for row in rows:
        regions_per_customer.setdefault(row["customer_id"], set()).add(row["region"])
    moved = {c for c, regions in regions_per_customer.items() if len(regions) > 1}
    assert moved, "some customer ordered both before and after a region change"
    for row in rows:
        if row["customer_id"] in moved:
            expected = model.tables[tables.ORDERS_ENRICHED.name][(row["event_id"],)]
            assert (row["region"], row["customer_version_ms"]) == (expected["region"], expected["customer_version_ms"])


def test_the_injected_anomalies_are_found_and_the_static_rules_fire_nowhere_else(settings, restarted_run):
    rows = read_rows(storage.table_uri(settings, tables.ANOMALIES), tables.ANOMALIES)
    region, category, first, last, _ = GEN.spike
    spike = {(r["window_start"].minute, r["region"], r["category"]) for r in rows if r["rule_id"] == "revenue_spike_1m"}
    assert spike == {(minute, region, category) for minute in range(first, last + 1)}
    drop_region, drop_first, drop_last, _ = GEN.drop
    drops = [r for r in rows if r["rule_id"] == "order_rate_drop_5m"]
    assert drops and all(r["region"] == drop_region for r in drops)
    assert {r["window_start"].minute for r in drops} <= set(range(drop_first - drop_first % 5, drop_last + 1))
    adaptive = {(r["window_start"].minute, r["region"], r["category"]) for r in rows if r["rule_kind"] == "adaptive"}
    assert (first, region, category) in adaptive, "the adaptive rule sees the spike's first minute"


def test_every_commit_carries_the_transaction_of_the_writer_that_made_it(settings, restarted_run):
    jobs_per_table = {}
    for spec in (tables.ORDER_EVENTS, tables.ORDERS_ENRICHED):
        table = DeltaTable(storage.table_uri(settings, spec))
        appends = [h for h in table.history() if h.get("operation") == "STREAMING UPDATE"]
        assert appends, f"the job's sink committed to {spec.name}"
        prefix = f"{settings.job_name}/{spec.name}/"
        transactions = [json.loads(h["lakehouse.transactions"]) for h in appends]
        assert all(app_id.startswith(prefix) for t in transactions for app_id in t)
        for t in transactions:
            for app_id, version in t.items():
                assert table.transaction_version(app_id) >= version
        jobs_per_table[spec.name] = {app_id.split("/")[2] for t in transactions for app_id in t}
    # silver.order_events had commits before the first run was cancelled (that is when it was
    # cancelled), so both Flink jobs, the cancelled one and the resumed one, committed to it.
    assert len(jobs_per_table[tables.ORDER_EVENTS.name]) == 2, jobs_per_table


def test_at_parallelism_two_every_writer_of_a_checkpoint_lands_in_one_log_version(tmp_path_factory):
    # Ten minutes of event time at parallelism 2: both writer subtasks of each table hand over
    # files at the same checkpoints. One committer commits them together (the sink's pre-commit
    # funnel): a version holds the transactions of both subtasks, and no two versions hold the
    # same checkpoint. Without the funnel each subtask's committer wrote its own version.
    gen = generator.GeneratorConfig(minutes=10)
    s = config.load(
        "embedded", data_dir=tmp_path_factory.mktemp("embedded-p2"), parallelism=2, checkpoint_interval_ms=2000
    )
    embedded.prepare_input(s, gen)
    embedded.run_pipeline(s)
    _assert_tables_match(s, Model(generator.generate(gen), rules.load(s.rules_file)))
    table = DeltaTable(storage.table_uri(s, tables.ORDER_EVENTS))
    appends = [h for h in table.history() if h.get("operation") == "STREAMING UPDATE"]
    transactions = [json.loads(h["lakehouse.transactions"]) for h in appends]
    subtasks = [sorted(app_id.rsplit("/", 1)[1] for app_id in t) for t in transactions]
    assert ["0", "1"] in subtasks, f"no version holds both writer subtasks' files: {subtasks}"
    checkpoints = [h["operationParameters"]["epochId"] for h in appends]
    assert len(checkpoints) == len(set(checkpoints)), f"two versions for one checkpoint: {checkpoints}"
