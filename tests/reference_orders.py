"""The order read model's reference: the seed's fold of an order's events, extended to every
column of gold.orders_current, written without the production code, and a comparison in words."""

from __future__ import annotations

from lakehouse import contract
from lakehouse.lake import read_model

STATE_COLUMNS = [name for name, _ in read_model.ORDERS_CURRENT.columns if name != "state_hash"]


def expected_orders(events: list[dict]) -> dict[str, dict]:
    """The seed's fold, extended: order_id -> the columns of gold.orders_current (state_hash aside)."""
    by_order: dict[str, list[dict]] = {}
    for event in events:
        by_order.setdefault(event["order_id"], []).append(event)
    return {order_id: _seed_fold(order_id, rows) for order_id, rows in by_order.items()}


def _seed_fold(order_id: str, events: list[dict]) -> dict:
    state = dict.fromkeys(STATE_COLUMNS)
    state.update(order_id=order_id, event_count=len(events), duplicate_events=0)
    state["late_events"] = sum(1 for e in events if e["is_late"])
    seen = []
    for event in sorted(events, key=lambda e: (e["event_time"], e["event_id"])):
        state["last_event_id"], state["last_event_time"] = event["event_id"], event["event_time"]
        kind = event["event_type"]
        if kind in seen:  # a step happens once; a repeat (e.g. a copy naming another customer) is noise
            state["duplicate_events"] += 1
            continue
        seen.append(kind)
        at = event["event_time"]
        if kind == "ORDER_PLACED":
            step = "PLACED"
            state.update(
                customer_id=event["customer_id"],
                product_id=event["product_id"],
                quantity=event["quantity"],
                amount=event["amount"],
                currency=event["currency"],
                placed_at=at,
            )
        elif kind == "PAYMENT_RECEIVED":
            step = "PAID"
            state.update(
                payment_id=event["payment_id"], paid_amount=event["amount"], paid_currency=event["currency"], paid_at=at
            )
        elif kind == "STOCK_RESERVED":
            step = "RESERVED"
            state.update(warehouse=event["warehouse"], reserved_at=at)
        elif kind == "SHIPPED":
            step = "SHIPPED"
            state.update(carrier=event["carrier"], shipped_at=at)
        elif kind == "DELIVERED":
            step = "DELIVERED"
            state.update(signature=event["signature"], delivered_at=at)
        else:
            assert kind == "CANCELLED", kind
            state.update(cancel_reason=event["cancel_reason"], cancelled_at=at)
            step = "CANCELLED"
        if state["status"] != "CANCELLED":  # as in the seed, each step sets the status; a cancellation sticks
            state["status"] = step
    rates = contract.RATES_PER_EUR
    state["amount_eur"] = None if state["amount"] is None else round(state["amount"] / rates[state["currency"]], 2)
    paid = state["paid_at"] is not None
    state["compensated"] = bool(state["cancelled_at"]) and paid
    state["refund_due"] = state["paid_amount"] if state["compensated"] else 0.0
    state["refund_due_eur"] = (
        round(state["paid_amount"] / rates[state["paid_currency"]], 2) if state["compensated"] else 0.0
    )
    return state


def compare(actual_rows: list[dict], expected: dict[str, dict]) -> list[str]:
    """Differences between gold.orders_current rows and the fold, in words (empty when equal)."""
    problems = []
    actual = {row["order_id"]: row for row in actual_rows}
    if len(actual) != len(actual_rows):
        problems.append(f"{len(actual_rows) - len(actual)} duplicated order ids")
    missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
    if missing:
        problems.append(f"{len(missing)} orders missing, e.g. {missing[:3]}")
    if extra:
        problems.append(f"{len(extra)} unexpected orders, e.g. {extra[:3]}")
    for order_id in sorted(set(actual) & set(expected)):
        for column in STATE_COLUMNS:
            a, e = actual[order_id][column], expected[order_id][column]
            if a != e and not (isinstance(a, float) and isinstance(e, float) and abs(a - e) <= 1e-9 * max(1, abs(e))):
                problems.append(f"{order_id} {column}: read model {a!r} != fold {e!r}")
                if len(problems) > 10:
                    return problems
    return problems
