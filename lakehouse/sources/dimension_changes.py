"""The two dimension streams, ``customers`` and ``products``: Debezium change envelopes (op r/c/u/d,
before, after, source.lsn, ts_ms) with region, category and price changes in the middle of the stream,
and the version history per key that orders look up."""

from __future__ import annotations

import json
import random

from lakehouse.sources.event_model import CATEGORIES, DAY_MS, REGIONS, GeneratorConfig, Record


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


def dimensions(rng: random.Random, config: GeneratorConfig) -> tuple[list[Record], list[Record], Versions]:
    """The customers and products change streams, and every key's versions for the orders to join."""
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
            region = _other(rng, REGIONS, customer_state[key]["region"])
            _update(customers, customer_state, history, key, ts, region=region)
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
            category = _other(rng, CATEGORIES, product_state[key]["category"])
            _update(products, product_state, history, key, ts, category=category)
        elif kind == "product_price":
            price = round(product_state[key]["price"] * rng.uniform(0.7, 1.3), 2)
            _update(products, product_state, history, key, ts, price=price)

    customers.records.sort(key=lambda r: json.loads(r.value)["source"]["lsn"])
    return customers.records, products.records, Versions(history)


def _update(
    changelog: _Changelog, state: dict[str, dict], history: dict[str, list[dict]], key: str, ts: int, **change
) -> None:
    """Emit an update of ``key``'s row and keep it as the current and latest version."""
    before = state[key]
    after = dict(before, **change, updated_at=ts)
    changelog.emit("u", before, after, ts)
    state[key] = after
    history[key].append(after)


def _other(rng: random.Random, choices: tuple[str, ...], current: str) -> str:
    return rng.choice([c for c in choices if c != current])


class Versions:
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
