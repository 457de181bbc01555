"""A seeded fuzzer of hostile change records on the customers and products streams: each one is a
mutation of a generated change, published right after it (same arrival time).

Mutations break each rule of lakehouse/sources/cdc.py (not JSON, JSON constants, no or an unknown op, the
key or the version time missing or of the wrong type, a version time far out, a product price that
is not a positive finite number) or keep the change as it was (a redelivery, an unknown field).
None of them moves a key's version to another time, so arrival order and version order still agree
per key, as in a real change stream. Whether a record is a version, a tombstone or quarantined,
and why, is decided by tests/reference_cdc.py, not here.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

from lakehouse import contract
from lakehouse.sources import generator
from lakehouse.sources.generator import Record
from tests.reference_cdc import KEYS

YEAR_MS = 365 * generator.DAY_MS


def _dumps(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"))


def _not_json(rng: random.Random, change: dict, _stream: str) -> str:
    text = _dumps(change)
    return rng.choice((text[: rng.randint(1, len(text) - 1)], text + " trailing", f"[{text}]", text[:-1] + ",}"))


def _op(rng: random.Random, change: dict, _stream: str) -> str:
    value = rng.choice(("t", "m", "x", "C", 5, {"op": "c"}, None, "missing"))
    if value == "missing":
        change.pop("op", None)
    else:
        change["op"] = value
    return _dumps(change)


def _image(change: dict) -> dict:
    """The row image the job reads the key from: before for a delete, after otherwise."""
    name = "before" if change.get("op") == "d" else "after"
    if not isinstance(change.get(name), dict):
        change[name] = {}
    return change[name]


def _key(rng: random.Random, change: dict, stream: str) -> str:
    image = _image(change)
    key = KEYS[stream]
    if rng.random() < 0.5:
        image.pop(key, None)
    else:
        image[key] = rng.choice(({"id": 1}, [1], None))
    return _dumps(change)


def _version_time(rng: random.Random, change: dict, _stream: str) -> str:
    if change.get("op") == "d":
        source = change.setdefault("source", {})
        source["ts_ms"] = rng.choice(("yesterday", -5, 0))
        change.pop("ts_ms", None)
    else:
        after = change["after"]
        after["updated_at"] = rng.choice(
            ("yesterday", {"t": 1}, None, -5, 0, after["updated_at"] + 10 * YEAR_MS, after["updated_at"] + 0.5)
        )
    return _dumps(change)


def _price(rng: random.Random, change: dict, stream: str) -> str:
    if stream != "products" or change.get("op") == "d":
        return _version_time(rng, change, stream)
    after = change["after"]
    literal = rng.choice(("NaN", "Infinity", "1e400", "-1e400", None))
    if literal is None:
        after["price"] = rng.choice(("NaN", "Infinity", "-Infinity", "1e400", 0, -1.5, contract.MAX_PRICE * 10, "A+g="))
        return _dumps(change)
    after["price"] = 1.5  # a placeholder replaced by a literal JSON does not have, or beyond double
    return _dumps(change).replace('"price":1.5', f'"price":{literal}')


def _redeliver(_rng: random.Random, change: dict, _stream: str) -> str:
    return _dumps(change)


def _unknown_field(rng: random.Random, change: dict, _stream: str) -> str:
    image = _image(change)
    image[rng.choice(("extra", "note", "é"))] = rng.choice(({"deep": [1, None]}, None, "ünïcode", 1e300))
    change[rng.choice(("transaction", "x"))] = None
    return _dumps(change)


MUTATIONS: tuple[tuple[str, Callable], ...] = (
    ("not_json", _not_json),
    ("op", _op),
    ("key", _key),
    ("version_time", _version_time),
    ("price", _price),
    ("price", _price),
    ("redeliver", _redeliver),
    ("unknown_field", _unknown_field),
)


def interleave(dataset: generator.Dataset, *, seed: int, count: int) -> tuple[generator.Dataset, list[Record]]:
    """The data set with ``count`` hostile change records, each right after the change it was made
    from; returns (the data set, the hostile records)."""
    rng = random.Random(seed)
    streams = {"customers": list(dataset.customers), "products": list(dataset.products)}
    sources = [(s, i) for s, records in streams.items() for i, r in enumerate(records) if r.value]
    after: dict[tuple[str, int], list[Record]] = {}
    seen: set[str] = set()
    hostile: list[Record] = []
    for n in range(count):
        stream, i = rng.choice(sources)
        source = streams[stream][i]
        name, mutation = MUTATIONS[n % len(MUTATIONS)]
        value = mutation(rng, json.loads(source.value), stream)
        # A repeated quarantined record would repeat its key (md5 of the payload); a redelivery is
        # a version already known, so it may repeat.
        if value in seen and name != "redeliver":
            continue
        seen.add(value)
        record = Record(stream=stream, key=source.key, value=value, arrival_ms=source.arrival_ms)
        after.setdefault((stream, i), []).append(record)
        hostile.append(record)
    merged = {}
    for stream, records in streams.items():
        merged[stream] = []
        for i, record in enumerate(records):
            merged[stream].append(record)
            merged[stream].extend(after.get((stream, i), []))
    fuzzed = generator.Dataset(
        config=dataset.config, orders=dataset.orders, customers=merged["customers"], products=merged["products"]
    )
    return fuzzed, hostile
