"""The ``order-events`` stream: orders placed over the run and their lifecycle (payment, reservation,
shipping, delivery or cancellation), delivered out of order within the jitter, a few far behind the
watermark, and about 1 % hostile records among them."""

from __future__ import annotations

import json
import random
from typing import Any

from lakehouse import contract
from lakehouse.sources.dimension_changes import Versions
from lakehouse.sources.event_model import CANCEL_REASONS, CARRIERS, WAREHOUSES, GeneratorConfig, Record
from lakehouse.sources.hostile_records import corrupt


def order_events(rng: random.Random, config: GeneratorConfig, versions: Versions) -> list[Record]:
    """The order-events stream in arrival order, hostile records and late arrivals included."""
    start, end = config.start_ms, config.start_ms + config.minutes * 60_000
    events: list[dict] = []
    t = float(start)
    order_no = 0
    spike_region, spike_category, spike_from, spike_to, spike_factor = config.spike
    drop_region, drop_from, drop_to, drop_factor = config.drop
    customer_ids = versions.keys("C", start)
    while True:
        t += rng.expovariate(config.orders_per_second) * 1000
        placed = int(t)
        if placed >= end:
            break
        minute = (placed - start) // 60_000
        if minute % 10 == 0:
            customer_ids = versions.keys("C", placed)
        customer_id = rng.choice(customer_ids)
        product_id = f"P{rng.randrange(1, config.products + 1):03d}"
        customer = versions.at(customer_id, placed)
        product = versions.at(product_id, placed)
        if customer["region"] == drop_region and drop_from <= minute <= drop_to and rng.random() > drop_factor:
            continue
        quantity = rng.randint(1, 3)
        if (
            customer["region"] == spike_region
            and product["category"] == spike_category
            and spike_from <= minute <= spike_to
        ):
            quantity = int(quantity * spike_factor)
        order_no += 1
        order_id = f"O{order_no:07d}"
        currency = rng.choices(contract.CURRENCIES, weights=(70, 20, 10))[0]
        amount = round(product["price"] * quantity * contract.RATES_PER_EUR[currency], 2)
        events.append(
            order_event(
                "ORDER_PLACED",
                order_id,
                placed,
                customer_id=customer_id,
                product_id=product_id,
                quantity=quantity,
                amount=amount,
                currency=currency,
            )
        )
        events.extend(_lifecycle(rng, order_id, placed, amount, currency))

    for n, event in enumerate(sorted(events, key=lambda e: (e["ts_ms"], e["order_id"], e["event_type"]))):
        event["event_id"] = f"E{n + 1:08d}"

    records = []
    for event in events:
        delay = rng.randrange(0, config.jitter_ms)
        expect: dict[str, Any] = {"event": event}
        # Late events arrive while the stream is dense: in the sparse tail after the hour, a Kafka
        # partition that has run dry holds the source watermark back, and lateness would depend
        # on how the finite stream ends rather than on the event.
        dense = start + config.late_delay_max_ms < event["ts_ms"] < end - config.late_delay_max_ms
        if dense and rng.random() < config.late_ratio:
            delay = rng.randrange(config.late_delay_min_ms, config.late_delay_max_ms)
            expect["late"] = True
        records.append(order_record(event, event["ts_ms"] + delay, expect))

    malformed = int(len(events) * config.malformed_ratio)
    valid_placed = [e for e in events if e["event_type"] == "ORDER_PLACED"]
    for n in range(malformed):
        source = rng.choice(events if n % 2 else valid_placed)
        value, reason = corrupt(rng, dict(source), n)
        records.append(
            Record(
                stream="order-events",
                key=source["order_id"],
                value=value,
                arrival_ms=source["ts_ms"] + rng.randrange(0, config.jitter_ms),
                expect={"quarantine": reason},
            )
        )
    records.sort(key=lambda r: (r.arrival_ms, r.value))
    return records


def order_event(event_type: str, order_id: str, ts_ms: int, **attributes: Any) -> dict:
    """One order event as a dict; ``event_id`` is numbered later, in event-time order."""
    return {"event_id": "", "event_type": event_type, "order_id": order_id, "ts_ms": ts_ms, **attributes}


def _lifecycle(rng: random.Random, order_id: str, placed: int, amount: float, currency: str) -> list[dict]:
    roll = rng.random()
    if roll < 0.03:  # cancelled before payment
        return [
            order_event(
                "CANCELLED", order_id, placed + rng.randrange(5_000, 120_000), reason=rng.choice(CANCEL_REASONS)
            )
        ]
    paid = placed + rng.randrange(2_000, 60_000)
    out = [
        order_event(
            "PAYMENT_RECEIVED", order_id, paid, payment_id=f"tx-{order_id[1:]}", amount=amount, currency=currency
        )
    ]
    if roll < 0.05:  # a compensating cancellation after payment
        out.append(order_event("CANCELLED", order_id, paid + rng.randrange(10_000, 300_000), reason="customer_request"))
        return out
    reserved = paid + rng.randrange(1_000, 30_000)
    out.append(order_event("STOCK_RESERVED", order_id, reserved, warehouse=rng.choice(WAREHOUSES)))
    shipped = reserved + rng.randrange(30_000, 300_000)
    out.append(order_event("SHIPPED", order_id, shipped, carrier=rng.choice(CARRIERS)))
    if rng.random() < 0.9:
        out.append(
            order_event(
                "DELIVERED", order_id, shipped + rng.randrange(60_000, 600_000), signature=f"sig-{order_id[1:]}"
            )
        )
    return out


def order_record(event: dict, arrival_ms: int, expect: dict) -> Record:
    """An order event as the message a consumer receives."""
    return Record(
        stream="order-events",
        key=event["order_id"],
        value=json.dumps(event, separators=(",", ":")),
        arrival_ms=arrival_ms,
        expect=expect,
    )
