"""Deterministic, seeded generator of the e-commerce event streams.

Three streams, in the order a consumer would receive them (arrival order):
- ``order-events``: ORDER_PLACED .. DELIVERED / CANCELLED as flat JSON, plus about 1 % malformed
  records (bad JSON, missing keys, wrong types, non-positive amounts, far-future timestamps,
  unknown event types, unknown customers) and a few events that arrive far behind the watermark.
- ``customers`` and ``products``: Debezium change envelopes (op r/c/u/d, before, after,
  source.lsn, ts_ms) with region and category changes in the middle of the stream.

Every record keeps its ground truth (``expect``): the quarantine reason a defect must produce, or
that an event is late. The reference model reads that truth, never the pipeline's SQL.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse import contract

REGIONS = ("EU-WEST", "EU-NORTH", "NA-EAST", "NA-WEST", "APAC")
CATEGORIES = ("electronics", "books", "home", "fashion", "sports")
WAREHOUSES = ("Lyon", "Rotterdam", "Newark", "Reno", "Singapore")
CARRIERS = ("DHL", "UPS", "FedEx", "La Poste")
CANCEL_REASONS = ("customer_request", "payment_failed", "out_of_stock")

DEFAULT_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: fixed, so runs are reproducible
DAY_MS = 86_400_000


@dataclass(frozen=True, kw_only=True)
class GeneratorConfig:
    """What to generate. Defaults give about 235,000 order events over one hour."""

    seed: int = 42
    start_ms: int = DEFAULT_START_MS
    minutes: int = 60
    orders_per_second: float = 14.0
    customers: int = 200
    products: int = 50
    malformed_ratio: float = 0.01
    late_ratio: float = 0.002
    jitter_ms: int = 2_000  # ordinary out-of-order delay; must stay below the watermark delay
    late_delay_min_ms: int = 10 * 60_000
    late_delay_max_ms: int = 20 * 60_000
    # Injected anomalies, as (region, category, first minute, last minute, factor).
    spike: tuple[str, str, int, int, float] = ("EU-WEST", "electronics", 40, 41, 25.0)
    drop: tuple[str, int, int, float] = ("NA-EAST", 20, 29, 0.1)


@dataclass(kw_only=True)
class Record:
    """One message as a consumer receives it."""

    stream: str  # order-events | customers | products
    key: str
    value: str  # the raw payload, exactly as written
    arrival_ms: int
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class Dataset:
    """Everything generated, in arrival order per stream, with ground truth."""

    config: GeneratorConfig
    orders: list[Record]
    customers: list[Record]
    products: list[Record]

    def streams(self) -> dict[str, list[Record]]:
        return {
            "order-events": self.orders,
            "customers": self.customers,
            "products": self.products,
        }


def generate(config: GeneratorConfig = GeneratorConfig()) -> Dataset:
    """Build all three streams from the seed; the same config always gives the same bytes."""
    rng = random.Random(config.seed)
    customers, products, versions = _dimensions(rng, config)
    orders = _order_events(rng, config, versions)
    return Dataset(config=config, orders=orders, customers=customers, products=products)


def write(dataset: Dataset, directory: Path) -> dict[str, Path]:
    """Write one JSON-lines file per stream (the embedded default's sources) and a manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for stream, records in dataset.streams().items():
        path = directory / stream / f"{stream}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            for record in records:
                out.write(record.value)
                out.write("\n")
        tmp.replace(path)
        paths[stream] = path
    manifest = {
        "config": {k: v for k, v in vars(dataset.config).items()},
        "counts": {s: len(r) for s, r in dataset.streams().items()},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return paths


# --- dimensions ---------------------------------------------------------------------------


class _Changelog:
    """Builds a Debezium change stream for one table, numbering changes by LSN."""

    def __init__(self, table: str, key_field: str, lsn_start: int) -> None:
        self.table = table
        self.key_field = key_field
        self.lsn = lsn_start
        self.records: list[Record] = []

    def emit(self, op: str, before: dict | None, after: dict | None, ts_ms: int) -> None:
        self.lsn += 1
        row = after if after is not None else before
        envelope = {
            "before": before,
            "after": after,
            "op": op,
            "source": {"connector": "postgresql", "db": "shop", "table": self.table, "lsn": self.lsn},
            "ts_ms": ts_ms,
        }
        self.records.append(
            Record(
                stream=self.table,
                key=row[self.key_field],
                value=json.dumps(envelope, separators=(",", ":")),
                arrival_ms=ts_ms,
                expect={"op": op, "row": row},
            )
        )


def _dimensions(rng: random.Random, config: GeneratorConfig):
    start, end = config.start_ms, config.start_ms + config.minutes * 60_000
    snapshot_ms = start - DAY_MS
    customers = _Changelog("customers", "customer_id", 1_000)
    products = _Changelog("products", "product_id", 5_000)
    customer_state: dict[str, dict] = {}
    product_state: dict[str, dict] = {}

    for i in range(1, config.customers + 1):
        row = {
            "customer_id": f"C{i:04d}",
            "name": f"Customer {i}",
            "region": REGIONS[(i - 1) % len(REGIONS)],
            "segment": rng.choice(("consumer", "business")),
            "updated_at": snapshot_ms + i,
        }
        customer_state[row["customer_id"]] = row
        customers.emit("r", None, row, row["updated_at"])
    for i in range(1, config.products + 1):
        row = {
            "product_id": f"P{i:03d}",
            "name": f"Product {i}",
            "category": CATEGORIES[(i - 1) % len(CATEGORIES)],
            "price": round(rng.uniform(5, 200), 2),
            "updated_at": snapshot_ms + i,
        }
        product_state[row["product_id"]] = row
        products.emit("r", None, row, row["updated_at"])

    # Mid-stream changes: the temporal join must pick the version valid at each order's time.
    changes: list[tuple[int, str, str]] = []

    def moment(low: int, high: int) -> int:
        # A run of a few minutes leaves no room for the margins: its changes fall mid-run.
        return rng.randrange(low, high) if low < high else (start + end) // 2

    for cid in rng.sample(sorted(customer_state), k=max(1, config.customers // 7)):
        changes.append((moment(start + 60_000, end - 60_000), "customer_region", cid))
    for pid in rng.sample(sorted(product_state), k=max(1, config.products // 5)):
        kind = rng.choice(("product_category", "product_price"))
        changes.append((moment(start + 60_000, end - 60_000), kind, pid))
    new_customers = max(1, config.customers // 20)
    for n in range(new_customers):
        changes.append((moment(start, end - 5 * 60_000), "customer_new", f"C{9000 + n:04d}"))
    # Deleted customers are throwaway accounts that never order.
    for n in range(2):
        changes.append((moment(start + 60_000, end - 60_000), "customer_delete", f"C{9500 + n:04d}"))

    # History per key, so the order generator can pick versions valid at a given time.
    history: dict[str, list[dict]] = {k: [dict(v)] for k, v in {**customer_state, **product_state}.items()}
    for ts, kind, key in sorted(changes):
        if kind == "customer_region":
            before = customer_state[key]
            after = dict(before, region=_other(rng, REGIONS, before["region"]), updated_at=ts)
            customers.emit("u", before, after, ts)
            customer_state[key] = after
            history[key].append(after)
        elif kind == "customer_new":
            index = int(key[1:])
            after = {
                "customer_id": key,
                "name": f"Customer {index}",
                "region": rng.choice(REGIONS),
                "segment": "consumer",
                "updated_at": ts,
            }
            customers.emit("c", None, after, ts)
            customer_state[key] = after
            history[key] = [after]
        elif kind == "customer_delete":
            row = {
                "customer_id": key,
                "name": "Throwaway",
                "region": "APAC",
                "segment": "consumer",
                "updated_at": ts - 30_000,
            }
            customers.emit("c", None, row, ts - 30_000)
            customers.emit("d", row, None, ts)
        elif kind == "product_category":
            before = product_state[key]
            after = dict(before, category=_other(rng, CATEGORIES, before["category"]), updated_at=ts)
            products.emit("u", before, after, ts)
            product_state[key] = after
            history[key].append(after)
        elif kind == "product_price":
            before = product_state[key]
            after = dict(before, price=round(before["price"] * rng.uniform(0.7, 1.3), 2), updated_at=ts)
            products.emit("u", before, after, ts)
            product_state[key] = after
            history[key].append(after)

    customers.records.sort(key=lambda r: json.loads(r.value)["source"]["lsn"])
    return customers.records, products.records, _Versions(history)


def _other(rng: random.Random, choices: tuple[str, ...], current: str) -> str:
    return rng.choice([c for c in choices if c != current])


class _Versions:
    """Dimension versions per key, to look up the row valid at a time."""

    def __init__(self, history: dict[str, list[dict]]) -> None:
        self.history = history

    def keys(self, prefix: str, at_ms: int) -> list[str]:
        return sorted(
            k for k, versions in self.history.items() if k.startswith(prefix) and versions[0]["updated_at"] <= at_ms
        )

    def at(self, key: str, at_ms: int) -> dict:
        valid = [v for v in self.history[key] if v["updated_at"] <= at_ms]
        return valid[-1]


# --- order events -------------------------------------------------------------------------


def _order_events(rng: random.Random, config: GeneratorConfig, versions: _Versions) -> list[Record]:
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
            _event(
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
        records.append(_order_record(event, event["ts_ms"] + delay, expect))

    malformed = int(len(events) * config.malformed_ratio)
    valid_placed = [e for e in events if e["event_type"] == "ORDER_PLACED"]
    for n in range(malformed):
        source = rng.choice(events if n % 2 else valid_placed)
        value, reason = _corrupt(rng, dict(source), n)
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


def _event(event_type: str, order_id: str, ts_ms: int, **attributes: Any) -> dict:
    return {"event_id": "", "event_type": event_type, "order_id": order_id, "ts_ms": ts_ms, **attributes}


def _lifecycle(rng: random.Random, order_id: str, placed: int, amount: float, currency: str) -> list[dict]:
    roll = rng.random()
    if roll < 0.03:  # cancelled before payment
        return [
            _event("CANCELLED", order_id, placed + rng.randrange(5_000, 120_000), reason=rng.choice(CANCEL_REASONS))
        ]
    paid = placed + rng.randrange(2_000, 60_000)
    out = [
        _event("PAYMENT_RECEIVED", order_id, paid, payment_id=f"tx-{order_id[1:]}", amount=amount, currency=currency)
    ]
    if roll < 0.05:  # a compensating cancellation after payment
        out.append(_event("CANCELLED", order_id, paid + rng.randrange(10_000, 300_000), reason="customer_request"))
        return out
    reserved = paid + rng.randrange(1_000, 30_000)
    out.append(_event("STOCK_RESERVED", order_id, reserved, warehouse=rng.choice(WAREHOUSES)))
    shipped = reserved + rng.randrange(30_000, 300_000)
    out.append(_event("SHIPPED", order_id, shipped, carrier=rng.choice(CARRIERS)))
    if rng.random() < 0.9:
        out.append(
            _event("DELIVERED", order_id, shipped + rng.randrange(60_000, 600_000), signature=f"sig-{order_id[1:]}")
        )
    return out


def _order_record(event: dict, arrival_ms: int, expect: dict) -> Record:
    return Record(
        stream="order-events",
        key=event["order_id"],
        value=json.dumps(event, separators=(",", ":")),
        arrival_ms=arrival_ms,
        expect=expect,
    )


_DEFECTS = (
    "bad_json",
    "missing_key",
    "wrong_type",
    "non_positive_amount",
    "future_ts",
    "unknown_type",
    "unknown_customer",
)


def _corrupt(rng: random.Random, event: dict, n: int) -> tuple[str, str]:
    """Return a broken copy of ``event`` and the quarantine reason the pipeline must give it."""
    event["event_id"] = f"Q{n + 1:07d}"
    defect = _DEFECTS[n % len(_DEFECTS)]
    if defect == "unknown_customer" and event["event_type"] != "ORDER_PLACED":
        defect = "missing_key"
    if defect in ("non_positive_amount",) and "amount" not in event:
        defect = "wrong_type"
    if defect == "bad_json":
        text = json.dumps(event, separators=(",", ":"))
        return text[: len(text) // 2], contract.REASON_BAD_JSON
    if defect == "missing_key":
        key = rng.choice(("order_id", "ts_ms", "event_type"))
        del event[key]
        return json.dumps(event), contract.reason_missing(key)
    if defect == "wrong_type":
        key = "ts_ms" if "amount" not in event or rng.random() < 0.5 else "amount"
        event[key] = rng.choice(("yesterday", "n/a", "twelve"))
        return json.dumps(event), contract.reason_wrong_type(key)
    if defect == "non_positive_amount":
        event["amount"] = -abs(event["amount"]) if rng.random() < 0.8 else 0.0
        return json.dumps(event), contract.REASON_NON_POSITIVE_AMOUNT
    if defect == "future_ts":
        event["ts_ms"] += 10 * 365 * DAY_MS
        return json.dumps(event), contract.REASON_FUTURE
    if defect == "unknown_type":
        event["event_type"] = "REFUNDED"
        return json.dumps(event), contract.REASON_UNKNOWN_TYPE
    event["customer_id"] = "C8888"
    return json.dumps(event), contract.REASON_UNKNOWN_CUSTOMER
