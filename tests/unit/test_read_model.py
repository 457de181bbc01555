"""gold.orders_current against an independent fold, through incremental updates and replays.

``expected_orders`` below is written from the seed's ``get_order_state`` (replay the events in
timestamp order, the last step sets the status), extended to every event type, without reading
``lakehouse.lake.read_model``. The integration tests import it too.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse import cli, config, rules
from lakehouse.lake import read_model, storage, tables
from lakehouse.sources import generator
from tests.reference import Model
from tests.reference_orders import compare, expected_orders

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(event_id: str, kind: str, order_id: str, minute: float, *, late: bool = False, **fields) -> dict:
    row = dict.fromkeys(tables.ORDER_EVENTS.column_names())
    at = T0 + timedelta(minutes=minute)
    row.update(event_id=event_id, event_type=kind, order_id=order_id, event_time=at, is_late=late)
    row["dt"] = at.strftime("%Y-%m-%d")
    row.update(fields)
    return row


def placed(event_id, order_id, minute, *, customer="C0001", amount=100.0, currency="EUR"):
    return event(
        event_id,
        "ORDER_PLACED",
        order_id,
        minute,
        customer_id=customer,
        product_id="P001",
        quantity=2,
        amount=amount,
        currency=currency,
    )


def paid(event_id, order_id, minute, *, amount=100.0, currency="EUR", late=False):
    return event(
        event_id,
        "PAYMENT_RECEIVED",
        order_id,
        minute,
        late=late,
        payment_id=f"tx-{order_id}",
        amount=amount,
        currency=currency,
    )


# Hand-written histories covering each path of the fold.
EVENTS = [
    # O1: the full happy path.
    placed("E01", "O1", 0),
    paid("E02", "O1", 1),
    event("E03", "STOCK_RESERVED", "O1", 2, warehouse="Lyon"),
    event("E04", "SHIPPED", "O1", 5, carrier="DHL"),
    event("E05", "DELIVERED", "O1", 30, signature="J.Dupont"),
    # O2: cancelled before payment: nothing to refund.
    placed("E06", "O2", 0, amount=54.0, currency="GBP"),
    event("E07", "CANCELLED", "O2", 1, cancel_reason="out_of_stock"),
    # O3: a compensation: cancelled after payment, the paid amount is due back.
    placed("E08", "O3", 0, amount=108.0, currency="USD"),
    paid("E09", "O3", 1, amount=108.0, currency="USD"),
    event("E10", "CANCELLED", "O3", 4, cancel_reason="customer_request"),
    # O4: a second ORDER_PLACED (the generator's unknown-customer copy) at the same time.
    placed("E11", "O4", 0),
    placed("Q01", "O4", 0, customer="C8888"),
    paid("E12", "O4", 1),
    # O5: the payment arrived late (behind the watermark) but counts all the same.
    placed("E13", "O5", 0),
    paid("E14", "O5", 2, late=True),
    event("E15", "STOCK_RESERVED", "O5", 3, warehouse="Reno"),
    # O6: the placement never reached the log (quarantined upstream): state from what is known.
    paid("E16", "O6", 1, amount=20.0),
    event("E17", "SHIPPED", "O6", 2, carrier="UPS"),
]


@pytest.fixture
def settings(tmp_path):
    s = config.load("embedded", data_dir=tmp_path)
    storage.ensure_tables(s, (tables.ORDER_EVENTS,))
    return s


def append_events(settings, rows: list[dict]) -> None:
    write_deltalake(
        storage.table_uri(settings, tables.ORDER_EVENTS),
        pa.Table.from_pylist(rows, schema=tables.ORDER_EVENTS.arrow_schema()),
        mode="append",
        partition_by=["dt"],
    )


def current(settings) -> list[dict]:
    return read_model.read_orders_current(settings).to_pylist()


def version(settings) -> int:
    return DeltaTable(read_model.table_uri(settings)).version()


def test_the_fold_covers_every_path():
    states = {
        o: read_model.fold_order([e for e in EVENTS if e["order_id"] == o])
        for o in ("O1", "O2", "O3", "O4", "O5", "O6")
    }
    assert {o: s["status"] for o, s in states.items()} == {
        "O1": "DELIVERED",
        "O2": "CANCELLED",
        "O3": "CANCELLED",
        "O4": "PAID",
        "O5": "RESERVED",
        "O6": "SHIPPED",
    }
    assert (states["O1"]["signature"], states["O1"]["carrier"], states["O1"]["warehouse"]) == (
        "J.Dupont",
        "DHL",
        "Lyon",
    )
    assert (states["O2"]["compensated"], states["O2"]["refund_due"]) == (False, 0.0)
    assert (states["O3"]["compensated"], states["O3"]["refund_due"], states["O3"]["refund_due_eur"]) == (
        True,
        108.0,
        100.0,
    )
    assert (states["O4"]["customer_id"], states["O4"]["duplicate_events"]) == ("C0001", 1)
    assert states["O5"]["late_events"] == 1
    assert states["O6"]["placed_at"] is None and states["O6"]["amount_eur"] is None


def test_incremental_batches_equal_the_independent_fold_and_replays_change_nothing(settings):
    batches = [EVENTS[0:4], EVENTS[4:9], EVENTS[9:14], EVENTS[14:]]
    for batch in batches:  # as the committer hook does: each batch, then its order ids
        append_events(settings, batch)
        read_model.update_orders_current(settings, order_ids={e["order_id"] for e in batch})
    assert compare(current(settings), expected_orders(EVENTS)) == []
    before, rows = version(settings), current(settings)

    for _ in range(2):  # replay everything, twice
        result = read_model.update_orders_current(settings)
        assert (result.inserted, result.updated, result.deleted) == (0, 0, 0)
    for batch in reversed(batches):  # and the batches again, out of order
        read_model.update_orders_current(settings, order_ids={e["order_id"] for e in batch})
    assert version(settings) == before, "a replay must not write a Delta version"
    assert sorted(current(settings), key=lambda r: r["order_id"]) == sorted(rows, key=lambda r: r["order_id"])


def test_a_late_event_updates_only_its_order(settings):
    append_events(settings, EVENTS[:-2])
    read_model.update_orders_current(settings)
    before = {r["order_id"]: r["state_hash"] for r in current(settings)}
    append_events(settings, [event("E99", "DELIVERED", "O5", 40, late=True, signature="sig")])
    result = read_model.update_orders_current(settings, order_ids=["O5"])
    assert (result.orders, result.updated, result.inserted) == (1, 1, 0)
    after = {r["order_id"]: r for r in current(settings)}
    assert after["O5"]["status"] == "DELIVERED" and after["O5"]["late_events"] == 2
    assert {o: h for o, h in before.items() if o != "O5"} == {o: r["state_hash"] for o, r in after.items() if o != "O5"}


def test_a_stale_state_never_overwrites_a_newer_one(settings, monkeypatch):
    append_events(settings, EVENTS)
    read_model.update_orders_current(settings)
    newest = {r["order_id"]: r for r in current(settings)}
    stale = [e for e in EVENTS if e["event_type"] in ("ORDER_PLACED", "PAYMENT_RECEIVED")]
    # A slower updater that read the log before the later events were committed:
    monkeypatch.setattr(read_model, "_read_events", lambda source, wanted: pa.Table.from_pylist(stale))
    read_model.update_orders_current(settings, order_ids=["O1", "O3"])
    assert {r["order_id"]: r for r in current(settings)} == newest


def test_a_full_recompute_removes_orders_without_events(settings):
    append_events(settings, EVENTS)
    read_model.update_orders_current(settings)
    extra = read_model.fold_order([placed("E50", "O50", 0)])
    write_deltalake(
        read_model.table_uri(settings),
        pa.Table.from_pylist([extra], schema=read_model.ORDERS_CURRENT.arrow_schema()),
        mode="append",
    )
    result = read_model.update_orders_current(settings)
    assert result.deleted == 1
    assert compare(current(settings), expected_orders(EVENTS)) == []


def test_generated_event_log_folds_like_the_independent_model(settings):
    gen = generator.GeneratorConfig(minutes=25, orders_per_second=1.0, seed=7)
    model = Model(generator.generate(gen), rules.load(settings.rules_file))
    events = list(model.tables[tables.ORDER_EVENTS.name].values())
    random.Random(1).shuffle(events)
    for start in range(0, len(events), 2_000):  # batches in arrival-like disorder
        batch = events[start : start + 2_000]
        append_events(settings, batch)
        read_model.update_orders_current(settings, order_ids={e["order_id"] for e in batch})
    expected = expected_orders(events)
    statuses = {s["status"] for s in expected.values()}
    assert {"DELIVERED", "CANCELLED", "SHIPPED"} <= statuses
    assert any(s["compensated"] for s in expected.values()) and any(s["duplicate_events"] for s in expected.values())
    assert compare(current(settings), expected) == []
    before = version(settings)
    read_model.update_orders_current(settings)
    assert version(settings) == before


def test_the_command_line_recomputes_the_read_model(settings, capsys):
    append_events(settings, EVENTS)
    args = cli.build_parser().parse_args(["orders-current", "--data-dir", str(settings.data_dir)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "6 orders recomputed" in out and "6 inserted" in out and "CANCELLED=2" in out
