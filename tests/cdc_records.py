"""Hand-made change records in the shapes a real Debezium deployment sends, appended to a generated
data set: what the job must apply (schema-wrapped envelope, snapshot row, update without ``before``,
decimal as a string, a delete with only the key in ``before``) and what it must quarantine (unknown
op, truncate, non-JSON, missing fields, a base64 decimal).

Changes go to keys the generator leaves alone after the chosen time, so arrival order and version
order agree per key, as they do in a real change stream.
"""

from __future__ import annotations

import json
from dataclasses import replace

from lakehouse.sources.generator import Dataset, Record

SCHEMA = {"type": "struct", "optional": False, "name": "shop.public.customers.Envelope", "fields": []}


def _changed_keys(records, key: str) -> set[str]:
    return {json.loads(r.value)["after"][key] for r in records if r.value and json.loads(r.value)["op"] in ("u", "c")}


def _ordering_keys(dataset: Dataset, field: str) -> list[str]:
    """Keys that place orders in the first and last third of the stream, most orders first."""
    counts: dict[str, int] = {}
    for record in dataset.orders:
        event = record.expect.get("event")
        if event and event["event_type"] == "ORDER_PLACED":
            counts[event[field]] = counts.get(event[field], 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))


def _record(stream: str, key: str, value: str | None, at_ms: int) -> Record:
    return Record(stream=stream, key=key, value=value, arrival_ms=at_ms)


def _dump(envelope: dict, *, wrapped: bool = False) -> str:
    body = {"schema": SCHEMA, "payload": envelope} if wrapped else envelope
    return json.dumps(body, separators=(",", ":"))


def handmade(dataset: Dataset) -> Dataset:
    """The data set with hand-made records appended to its customers and products streams."""
    start = dataset.config.start_ms
    end = start + dataset.config.minutes * 60_000
    middle = start + (end - start) // 2
    source = {"connector": "postgresql", "db": "shop", "schema": "public"}
    unchanged_customers = [
        k for k in _ordering_keys(dataset, "customer_id") if k not in _changed_keys(dataset.customers, "customer_id")
    ]
    unchanged_products = [
        k for k in _ordering_keys(dataset, "product_id") if k not in _changed_keys(dataset.products, "product_id")
    ]
    wrapped_c, nobefore_c, deleted_c = unchanged_customers[:3]
    string_price_p, wrapped_p, base64_p = unchanged_products[:3]
    t1, t2, t3 = middle - 60_000, middle, middle + 60_000

    def customer(cid: str, region: str, at: int) -> dict:
        return {
            "customer_id": cid,
            "name": f"Customer {cid}",
            "region": region,
            "segment": "business",
            "updated_at": at,
        }

    def product(pid: str, category: str, price, at: int) -> dict:
        return {"product_id": pid, "name": f"Product {pid}", "category": category, "price": price, "updated_at": at}

    def change(
        stream: str,
        key: str,
        at: int,
        *,
        op: str,
        after: dict | None,
        before: dict | None = None,
        source_ts: int | None = None,
        ts_ms: int | None = None,
        wrapped: bool = False,
    ) -> Record:
        """A full Debezium envelope arriving at ``at``: ``source_ts`` is the commit time in
        ``source`` (left out when None), ``ts_ms`` the processing time (``at`` when None),
        ``wrapped`` the JsonConverter's schema envelope."""
        envelope = {
            "before": before,
            "after": after,
            "op": op,
            "source": source if source_ts is None else {**source, "ts_ms": source_ts},
            "ts_ms": at if ts_ms is None else ts_ms,
        }
        return _record(stream, key, _dump(envelope, wrapped=wrapped), at)

    customers = [
        # Applied: a schema-wrapped update (JsonConverter, schemas.enable=true), then the same change
        # delivered again (a Connect restart resends from its last committed offset; only the
        # envelope's processing time differs): no second version.
        *(
            change(
                "customers",
                wrapped_c,
                t1,
                op="u",
                after=customer(wrapped_c, "LATAM", t1),
                source_ts=t1,
                ts_ms=t1 + processed_after,
                wrapped=True,
            )
            for processed_after in (5, 900)
        ),
        # Applied: an update without before (the default replica identity).
        change("customers", nobefore_c, t2, op="u", after=customer(nobefore_c, "APAC", t2), source_ts=t2, ts_ms=t2 + 5),
        # Applied: a snapshot row of a customer nobody orders for.
        change("customers", "C7000", start, op="r", after=customer("C7000", "EU-WEST", start - 5_000), source_ts=start),
        # Applied: a delete at t3 whose before holds only the key; later orders of this customer are unknown.
        change(
            "customers",
            deleted_c,
            t3,
            op="d",
            before={"customer_id": deleted_c, "name": None, "region": None, "segment": None, "updated_at": None},
            after=None,
            source_ts=t3,
            ts_ms=t3 + 40,
        ),
        # Quarantined.
        change("customers", "C0001", t2, op="x", after=customer("C0001", "APAC", t2)),
        _record("customers", "C0001", _dump({"op": "t", "source": {**source, "ts_ms": t2}, "ts_ms": t2}), t2),
        _record("customers", "C0001", "this is not JSON {", t2),
        _record(
            "customers",
            "C0001",
            _dump(
                {"before": None, "after": customer("C0001", "APAC", t2), "source": source, "ts_ms": t2}, wrapped=True
            ),
            t2,
        ),
        change("customers", "C0001", t2, op="u", after={"customer_id": "C0001", "region": "APAC"}),
        change("customers", "C0001", t2, op="u", after=customer("C0001", "APAC", "yesterday")),
        change("customers", "C0001", t2, op="d", after=None),
    ]
    products = [
        # Applied: decimal.handling.mode=string sends the price as text.
        change(
            "products", string_price_p, t1, op="u", after=product(string_price_p, "books", "12.50", t1), source_ts=t1
        ),
        change(
            "products", wrapped_p, t2, op="u", after=product(wrapped_p, "garden", 99.5, t2), source_ts=t2, wrapped=True
        ),
        # Quarantined: decimal.handling.mode=precise (the default) sends base64 bytes.
        change("products", base64_p, t2, op="u", after=product(base64_p, "books", "A+g=", t2)),
        change("products", base64_p, t2, op="c", after=product(base64_p, "books", None, t2)),
    ]
    return replace(dataset, customers=[*dataset.customers, *customers], products=[*dataset.products, *products])
