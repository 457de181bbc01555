"""The order read model: ``gold.orders_current``, one row per order with its current state, folded
from the event log ``silver.order_events`` (event sourcing: the log is the truth, this is a view).

Invariants (what makes replays and restarts harmless):
1. An order's state is a pure function of the *set* of its events: they are folded in event-time
   order (ties broken by event_id), so neither arrival order nor batch boundaries matter.
2. An update recomputes every order a batch touched from *all* of that order's events in
   silver.order_events, never from the batch alone: a late event or a replayed batch is folded
   together with everything already known about the order.
3. The write is one Delta MERGE on order_id: insert when the order is new, update when the state
   changed (``state_hash`` differs) and was computed from at least as many events as the stored one.
   The log is insert-only, so a state computed from fewer events is stale (a slower concurrent
   updater) and never overwrites a newer one. Recomputing unchanged orders matches no row, and
   delta-rs writes no Delta version for a merge that changes nothing: replays leave the table,
   its content and its version, as they were.
4. Each commit records the silver.order_events version it was computed from (commitInfo
   ``lakehouse.source_version``); ``lakehouse history gold.orders_current`` shows it.

``follow`` keeps the table current beside a running job: it reads only the silver.order_events
versions it has not seen (the data files they added), and recomputes only the orders those files
touch. Where it stands is the ``lakehouse.source_version`` of the table's own newest commit
(invariant 4), so a restarted follower resumes without a state of its own; a follower that
stops between two versions only recomputes some orders again, which invariant 3 makes harmless.

Fold semantics (the seed's ``get_order_state`` extended to every event type):
- each step's first event sets its fields and timestamp: ORDER_PLACED (customer, product,
  quantity, amount, currency), PAYMENT_RECEIVED (payment id, paid amount), STOCK_RESERVED
  (warehouse), SHIPPED (carrier), DELIVERED (signature), CANCELLED (reason); a repeated event type
  for the same order is counted in ``duplicate_events`` and changes nothing else (the generator's
  ORDER_PLACED copies naming an unknown customer are such repeats);
- ``status`` is CANCELLED once any cancellation is known, else the furthest step reached
  (PLACED < PAID < RESERVED < SHIPPED < DELIVERED);
- a cancelled order that was paid is a compensation: ``compensated`` is true and ``refund_due``
  is the paid amount (in the payment's currency; ``refund_due_eur`` at the contract's rates);
  a cancellation before any payment refunds nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable

from lakehouse import contract
from lakehouse.config import Settings
from lakehouse.lake import storage, tables
from lakehouse.lake.tables import ORDERS_CURRENT, TableSpec

STEPS = ("PLACED", "PAID", "RESERVED", "SHIPPED", "DELIVERED")
CANCELLED = "CANCELLED"
# event type -> (step it reaches, {state field: event column}, timestamp field)
_HANDLERS: dict[str, tuple[str | None, dict[str, str], str]] = {
    contract.ORDER_PLACED: (
        "PLACED",
        {
            "customer_id": "customer_id",
            "product_id": "product_id",
            "quantity": "quantity",
            "amount": "amount",
            "currency": "currency",
        },
        "placed_at",
    ),
    contract.PAYMENT_RECEIVED: (
        "PAID",
        {"payment_id": "payment_id", "paid_amount": "amount", "paid_currency": "currency"},
        "paid_at",
    ),
    contract.STOCK_RESERVED: ("RESERVED", {"warehouse": "warehouse"}, "reserved_at"),
    contract.SHIPPED: ("SHIPPED", {"carrier": "carrier"}, "shipped_at"),
    contract.DELIVERED: ("DELIVERED", {"signature": "signature"}, "delivered_at"),
    contract.CANCELLED: (None, {"cancel_reason": "cancel_reason"}, "cancelled_at"),
}
_EVENT_COLUMNS = [c for c in tables.ORDER_EVENTS.column_names() if c not in tables.ORDER_EVENTS.partition_by]
_CONFLICT_RETRIES = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(kw_only=True)
class UpdateResult:
    orders: int  # orders recomputed
    inserted: int
    updated: int
    unchanged: int
    deleted: int
    version: int  # gold.orders_current's version after the update
    source_version: int  # the silver.order_events version the states were computed from


def fold_order(events: Iterable[dict]) -> dict:
    """The current state of one order from its events (rows of silver.order_events)."""
    ordered = sorted(events, key=lambda e: (e["event_time"], e["event_id"]))
    if not ordered:
        raise ValueError("an order needs at least one event")
    state: dict = {name: None for name, _ in ORDERS_CURRENT.columns}
    state.update(order_id=ordered[0]["order_id"], event_count=0, duplicate_events=0, late_events=0)
    seen: set[str] = set()
    furthest = -1
    for event in ordered:
        kind = event["event_type"]
        state["event_count"] += 1
        state["late_events"] += bool(event.get("is_late"))
        state["last_event_id"], state["last_event_time"] = event["event_id"], event["event_time"]
        if kind not in _HANDLERS:
            raise ValueError(f"unknown event type {kind!r} for order {state['order_id']}")
        if kind in seen:
            state["duplicate_events"] += 1
            continue
        seen.add(kind)
        step, fields, at = _HANDLERS[kind]
        for target, source in fields.items():
            state[target] = event.get(source)
        state[at] = event["event_time"]
        if step is not None:
            furthest = max(furthest, STEPS.index(step))
    cancelled = state["cancelled_at"] is not None
    state["status"] = CANCELLED if cancelled else STEPS[furthest]
    state["amount_eur"] = _to_eur(state["amount"], state["currency"])
    state["compensated"] = cancelled and state["paid_at"] is not None
    state["refund_due"] = float(state["paid_amount"] or 0.0) if state["compensated"] else 0.0
    state["refund_due_eur"] = _to_eur(state["refund_due"], state["paid_currency"]) if state["compensated"] else 0.0
    state["state_hash"] = state_hash(state)
    return state


def fold_events(events: Iterable[dict]) -> dict[str, dict]:
    """order_id -> current state, for every order among ``events``."""
    by_order: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        by_order[event["order_id"]].append(event)
    return {order_id: fold_order(rows) for order_id, rows in by_order.items()}


def state_hash(state: dict) -> str:
    """md5 of every state column but the hash itself, in a canonical JSON form."""
    payload = {name: _canonical(state.get(name)) for name, _ in ORDERS_CURRENT.columns if name != "state_hash"}
    return hashlib.md5(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def table_uri(settings: Settings, spec: TableSpec = ORDERS_CURRENT) -> str:
    return f"{settings.tables_uri()}/{spec.path}"


def ensure_table(settings: Settings) -> None:
    """Create gold.orders_current if it does not exist yet."""
    storage.create_table_if_absent(settings, ORDERS_CURRENT, table_uri(settings))


def update_orders_current(settings: Settings, order_ids: Iterable[str] | None = None) -> UpdateResult:
    """Recompute the given orders (None: every order) from all their events and merge them by order_id.

    Idempotent: calling it again with the same or more events changes only the orders whose
    events changed; with none changed it writes no Delta version. A full recompute (None) also
    removes orders that no longer have any event, so it rebuilds the table exactly.
    """
    ensure_table(settings)
    wanted = None if order_ids is None else sorted(set(order_ids))
    for attempt in range(_CONFLICT_RETRIES):
        try:
            return _update(settings, wanted)
        except storage.SNAPSHOT_ERRORS as error:
            # Another writer committed first, or a compaction plus vacuum removed a file we were
            # reading: re-read the log and the table and decide again (states are recomputed).
            if attempt == _CONFLICT_RETRIES - 1 or not storage.snapshot_moved(error):
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def follow(settings: Settings, *, since: int | None = None) -> UpdateResult | None:
    """Fold the silver.order_events versions after ``since`` (default: the version the table's
    newest commit was computed from) into gold.orders_current; None when there was nothing new.

    With no commit yet, every order is computed (a full rebuild)."""
    ensure_table(settings)
    options = settings.reader_storage_options()
    source = DeltaTable(table_uri(settings, tables.ORDER_EVENTS), storage_options=options)
    current = source.version()
    last = since if since is not None else followed_version(settings)
    if last is None:
        return update_orders_current(settings)
    if current <= last:
        return None
    order_ids = _order_ids_added(settings, source, last)
    if not order_ids:
        return None
    return update_orders_current(settings, order_ids)


def followed_version(settings: Settings) -> int | None:
    """The silver.order_events version gold.orders_current was last computed from, if any."""
    target = DeltaTable(table_uri(settings), storage_options=settings.reader_storage_options())
    versions = [int(h["lakehouse.source_version"]) for h in target.history() if "lakehouse.source_version" in h]
    return max(versions) if versions else None


def _order_ids_added(settings: Settings, source: DeltaTable, since: int) -> list[str]:
    """Order ids in the data files the source gained after version ``since`` (a compaction's
    rewritten files count too: recomputing their orders changes nothing)."""
    import pyarrow.dataset as ds

    options = settings.reader_storage_options()
    before = set(DeltaTable(source.table_uri, version=since, storage_options=options).file_uris())
    added = [uri for uri in source.file_uris() if uri not in before]
    if not added:
        return []
    fs, _ = storage.filesystem(source.table_uri, settings, read_only=True)
    paths = [storage.filesystem(uri, settings, read_only=True)[1] for uri in added]
    ids = ds.dataset(paths, format="parquet", filesystem=fs).to_table(columns=["order_id"])["order_id"]
    return sorted(set(ids.drop_null().to_pylist()))


def read_orders_current(settings: Settings, *, version: int | None = None) -> pa.Table:
    table = DeltaTable(table_uri(settings), version=version, storage_options=settings.reader_storage_options())
    return table.to_pyarrow_table()


def _update(settings: Settings, wanted: list[str] | None) -> UpdateResult:
    source = DeltaTable(table_uri(settings, tables.ORDER_EVENTS), storage_options=settings.reader_storage_options())
    source_version = source.version()
    events = _read_events(source, wanted)
    states = fold_events(events.to_pylist())
    target = DeltaTable(table_uri(settings), storage_options=settings.storage_options())  # merged into: the writer
    existing = _stored_hashes(target, None if wanted is None else sorted(states))
    changed = [s for order_id, s in sorted(states.items()) if existing.get(order_id) != s["state_hash"]]
    orphans = sorted(set(existing) - set(states)) if wanted is None else []
    inserted = updated = deleted = 0
    metadata = {
        "lakehouse.job": "read_model",
        "lakehouse.table": ORDERS_CURRENT.name,
        "lakehouse.source_table": tables.ORDER_EVENTS.name,
        "lakehouse.source_version": str(source_version),
        "lakehouse.orders": str(len(states)),
    }
    if changed:
        batch = pa.Table.from_pylist(changed, schema=ORDERS_CURRENT.arrow_schema())
        metrics = (
            target.merge(
                batch,
                predicate="t.order_id = s.order_id",
                source_alias="s",
                target_alias="t",
                commit_properties=CommitProperties(custom_metadata=metadata),
            )
            .when_matched_update_all(predicate="t.state_hash <> s.state_hash and s.event_count >= t.event_count")
            .when_not_matched_insert_all()
            .execute()
        )
        inserted = int(metrics.get("num_target_rows_inserted", 0))
        updated = int(metrics.get("num_target_rows_updated", 0))
        target.update_incremental()
    if orphans:
        deleted = _delete_orphans(target, orphans, metadata)
    return UpdateResult(
        orders=len(states),
        inserted=inserted,
        updated=updated,
        unchanged=len(states) - inserted - updated,
        deleted=deleted,
        version=target.version(),
        source_version=source_version,
    )


def _read_events(source: DeltaTable, wanted: list[str] | None) -> pa.Table:
    dataset = source.to_pyarrow_dataset()
    if wanted is None:
        return dataset.to_table(columns=_EVENT_COLUMNS)
    if not wanted:
        return dataset.schema.empty_table().select(_EVENT_COLUMNS)
    return dataset.to_table(columns=_EVENT_COLUMNS, filter=pc.field("order_id").isin(pa.array(wanted, pa.string())))


def _stored_hashes(target: DeltaTable, order_ids: list[str] | None) -> dict[str, str]:
    dataset = target.to_pyarrow_dataset()
    if order_ids is not None and not order_ids:
        return {}
    filter_ = None if order_ids is None else pc.field("order_id").isin(pa.array(order_ids, pa.string()))
    stored = dataset.to_table(columns=["order_id", "state_hash"], filter=filter_)
    return dict(zip(stored["order_id"].to_pylist(), stored["state_hash"].to_pylist(), strict=True))


def _delete_orphans(target: DeltaTable, orphans: list[str], metadata: dict[str, str]) -> int:
    values = ", ".join("'" + order_id.replace("'", "''") + "'" for order_id in orphans)
    metrics = target.delete(
        predicate=f"order_id in ({values})", commit_properties=CommitProperties(custom_metadata=metadata)
    )
    target.update_incremental()
    return int(metrics.get("num_deleted_rows", 0))


def _to_eur(amount: float | None, currency: str | None) -> float | None:
    if amount is None or currency not in contract.RATES_PER_EUR:
        return None
    return contract.to_eur(amount, currency)


def _canonical(value: object) -> object:
    if isinstance(value, datetime):
        return (value - _EPOCH) // timedelta(microseconds=1)
    if isinstance(value, float):
        return repr(value)
    return value
