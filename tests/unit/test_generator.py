import json
from collections import Counter

import pytest

from lakehouse import contract
from lakehouse.sources import generator

SMALL = generator.GeneratorConfig(orders_per_second=2.0, minutes=60, customers=50, products=20)


@pytest.fixture(scope="module")
def dataset():
    return generator.generate(SMALL)


def test_same_seed_gives_the_same_bytes(dataset):
    again = generator.generate(SMALL)
    assert [r.value for r in again.orders] == [r.value for r in dataset.orders]
    assert [r.value for r in again.customers] == [r.value for r in dataset.customers]


def test_another_seed_gives_other_events(dataset):
    other = generator.generate(generator.GeneratorConfig(**{**vars(SMALL), "seed": 7}))
    assert [r.value for r in other.orders[:50]] != [r.value for r in dataset.orders[:50]]


def test_every_event_type_appears(dataset):
    types = Counter(r.expect["event"]["event_type"] for r in dataset.orders if "event" in r.expect)
    assert set(types) == set(contract.EVENT_TYPES)


def test_about_one_percent_is_malformed_with_every_kind_of_defect(dataset):
    reasons = Counter(r.expect["quarantine"] for r in dataset.orders if "quarantine" in r.expect)
    ratio = sum(reasons.values()) / len(dataset.orders)
    assert 0.008 <= ratio <= 0.012
    assert {
        contract.REASON_BAD_JSON,
        contract.REASON_FUTURE,
        contract.REASON_NON_POSITIVE_AMOUNT,
        contract.REASON_UNKNOWN_TYPE,
        contract.REASON_UNKNOWN_CUSTOMER,
        contract.reason_missing("order_id"),
        contract.reason_wrong_type("ts_ms"),
    } <= set(reasons)


def test_out_of_order_events_stay_within_the_watermark_delay_and_late_ones_far_behind(dataset):
    newest = 0
    late = 0
    for record in dataset.orders:
        event = record.expect.get("event")
        if event is None:
            continue
        if record.expect.get("late"):
            late += 1
            assert newest - event["ts_ms"] > 5 * 60_000, "a late event must be far behind the watermark"
        else:
            assert event["ts_ms"] > newest - contract.WATERMARK_DELAY_MS + 1_000
        newest = max(newest, event["ts_ms"])
    assert late > 0


def test_dimension_streams_are_debezium_envelopes_with_mid_stream_changes(dataset):
    envelopes = [json.loads(r.value) for r in dataset.customers + dataset.products]
    assert {"before", "after", "op", "source", "ts_ms"} <= set(envelopes[0])
    assert Counter(e["op"] for e in envelopes).keys() == {"r", "c", "u", "d"}
    lsns = [json.loads(r.value)["source"]["lsn"] for r in dataset.customers]
    assert lsns == sorted(lsns)
    regions_changed = [
        e
        for e in envelopes
        if e["op"] == "u" and "region" in e["after"] and e["before"]["region"] != e["after"]["region"]
    ]
    assert regions_changed


def test_injected_spike_is_visible_in_the_raw_events(dataset):
    region, category, first, last, _ = SMALL.spike
    start = SMALL.start_ms
    amounts = [
        r.expect["event"]["amount"]
        for r in dataset.orders
        if "event" in r.expect and r.expect["event"]["event_type"] == "ORDER_PLACED"
    ]
    assert max(amounts) > 20 * (sum(amounts) / len(amounts))
    assert start  # the spike window is inside the generated hour
    assert first < last < SMALL.minutes


def test_write_creates_one_file_per_stream_and_a_manifest(tmp_path, dataset):
    paths = generator.write(dataset, tmp_path)
    assert set(paths) == {"order-events", "customers", "products"}
    lines = paths["order-events"].read_text().splitlines()
    assert len(lines) == len(dataset.orders)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["counts"]["order-events"] == len(dataset.orders)


def test_the_default_run_has_an_hour_and_at_least_200k_events():
    config = generator.GeneratorConfig()
    assert config.minutes == 60
    expected_orders = config.orders_per_second * 60 * config.minutes
    assert expected_orders * 4 > 200_000  # placed + payment + reservation + shipping, before deliveries


@pytest.mark.parametrize("minutes", [1, 2, 5])
def test_a_short_run_generates_changes_inside_its_window(minutes):
    config = generator.GeneratorConfig(minutes=minutes, orders_per_second=2.0, customers=50, products=20)
    data = generator.generate(config)
    end_ms = config.start_ms + minutes * 60_000
    changes = [json.loads(r.value) for r in data.customers + data.products]
    changes = [c for c in changes if c["op"] != "r"]
    assert changes
    assert all(config.start_ms <= c["ts_ms"] < end_ms for c in changes)
    assert data.orders
