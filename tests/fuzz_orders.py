"""A seeded fuzzer of hostile order events: each one is a mutation of a generated, valid event,
published right after it, so its event time (when it has a plausible one) is the original's and it
cannot move the watermark differently from the original.

Mutations cover every class the contract names (lakehouse/contract.py): non-finite and
out-of-range numbers, implausible times on either side, wrong JSON types, invalid UTF-8 and
unpaired surrogates, records over the size limit, empty records, text that is not one JSON object,
repeated keys, missing and unknown values, redelivered events and events that reuse an event id
with other content, and harmless changes that keep an event valid. The
expected outcome of each record is not decided here but by tests/reference_contract.py.

Limits of the embedded file source shape the input: a record is one line (no raw newline byte),
and at most one record is empty (a file has no offsets, so empty lines would share one key).
Timestamps "in the future" are years ahead, since the embedded source's arrival time is the file's
modification time, not the record's.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

from lakehouse import contract
from lakehouse.sources import generator
from lakehouse.sources.generator import Record

YEAR_MS = 365 * generator.DAY_MS
STRING_FIELDS = [f.name for f in contract.FIELDS if f.json_type == "string"]
ODD_VALUES = ({"nested": 1}, [1, 2], True, False, 12, 3.5, "12")
# The quarantine reasons a few hundred fuzzed records always include, whatever the seed.
COVERED_REASONS = (
    contract.REASON_EMPTY,
    contract.REASON_TOO_LARGE,
    contract.REASON_NOT_UTF8,
    contract.REASON_BAD_JSON,
    contract.REASON_PAST,
    contract.REASON_FUTURE,
    contract.REASON_AMOUNT_RANGE,
    contract.REASON_NON_POSITIVE_AMOUNT,
)


def _dumps(event: dict) -> str:
    return json.dumps(event, separators=(",", ":"))


def _amount_text(rng: random.Random, event: dict) -> str:
    event["amount"] = 1.5  # a placeholder replaced by text JSON cannot express as a float
    literal = rng.choice(("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E+308", "4.9e-324", "-0.0"))
    return _dumps(event).replace('"amount":1.5', f'"amount":{literal}')


def _amount_value(rng: random.Random, event: dict) -> str:
    event["amount"] = rng.choice(
        (
            "NaN",
            "Infinity",
            "12.5",
            0,
            -0.01,
            -abs(rng.uniform(1, 1e6)),
            contract.MAX_AMOUNT,
            contract.MAX_AMOUNT + 0.01,
            10**30,
            round(rng.uniform(0.01, 900.0), 2),
            rng.randint(1, 500),
        )
    )
    return _dumps(event)


def _quantity(rng: random.Random, event: dict) -> str:
    event["quantity"] = rng.choice(
        (0, -1, 2**31, 2**40, -(2**40), 2.0, 2.5, "3", contract.MAX_QUANTITY, contract.MAX_QUANTITY + 1, 1, 7)
    )
    return _dumps(event)


def _ts(rng: random.Random, event: dict) -> str:
    ts = event["ts_ms"]
    event["ts_ms"] = rng.choice(
        (
            -1,
            0,
            -ts,
            contract.MIN_EVENT_TIME_MS - 1,
            ts - 30 * YEAR_MS,
            ts + 10 * YEAR_MS,
            contract.MAX_EVENT_TIME_MS + 1,
            2**63,
            2**64,
            -(2**64),
            "yesterday",
            str(ts),
            ts + 0.5,
            float(ts),
            None,
        )
    )
    return _dumps(event)


def _wrong_type(rng: random.Random, event: dict) -> str:
    # Not event_id: a valid event must keep its own, unique id.
    field = rng.choice([f.name for f in contract.FIELDS if f.name in event and f.name != "event_id"])
    event[field] = rng.choice(ODD_VALUES)
    return _dumps(event)


def _surrogate(rng: random.Random, event: dict) -> str:
    field = rng.choice([name for name in STRING_FIELDS if name in event])
    event[field] = str(event[field]) + rng.choice(("\ud800", "\udfff", "\udc80x"))
    return json.dumps(event)  # ensure_ascii: written as a \\u escape


def _not_utf8(rng: random.Random, event: dict) -> bytes:
    text = _dumps(event).encode()
    cut = text.index(b':"') + 2  # inside the first string value (the event id)
    junk = rng.choice((b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"))
    return text[:cut] + junk + text[cut:]


def _oversize(rng: random.Random, event: dict, limit: int) -> str:
    event["note"] = "x" * rng.randint(limit, 2 * limit)
    return _dumps(event)


def _near_limit(rng: random.Random, event: dict, limit: int) -> str:
    event["note"] = ""
    room = limit - len(_dumps(event).encode())
    event["note"] = "y" * max(0, room - rng.randint(0, 1))  # at the limit or one byte under
    return _dumps(event)


def _not_json(rng: random.Random, event: dict, n: int) -> str:
    text = _dumps(event)
    return rng.choice(
        (
            text[: rng.randint(1, len(text) - 1)],
            text + " trailing",
            text + text,
            f"[{text}]",
            f'"{event["event_id"]}"',
            " " * (n % 50 + 1) + "nul",
            text.replace(":", "=", 1),
            text[:-1] + ",}",
        )
    )


def _repeated_key(rng: random.Random, event: dict) -> str:
    text = _dumps(event)
    first = rng.choice(('"amount":-5,', '"event_type":"REFUNDED",', '"currency":1,'))
    return "{" + first + text[1:]


def _missing(rng: random.Random, event: dict) -> str:
    del event[rng.choice([k for k in event if k != "event_id"] or ["ts_ms"])]
    return _dumps(event)


def _unknown_values(rng: random.Random, event: dict) -> str:
    key = rng.choice(("event_type", "currency", "customer_id"))
    event[key] = {"event_type": "REFUNDED", "currency": "XXX", "customer_id": "C9999"}[key]
    return _dumps(event)


def _harmless(rng: random.Random, event: dict) -> str:
    event[rng.choice(("extra", "comment", "é"))] = rng.choice(({"deep": [1, {"x": None}]}, None, "ünïcode 🚚", 1e300))
    if "carrier" in event:
        event["carrier"] = "La Poste 🚚"
    text = json.dumps(event, separators=(",", ":"), ensure_ascii=rng.random() < 0.5)
    return text.replace(",", ", ", rng.randint(0, 3)) if rng.random() < 0.5 else text


def _redeliver(rng: random.Random, event: dict) -> str:
    return _dumps(event)  # byte for byte what the generator published


def _conflict(rng: random.Random, event: dict) -> str:
    if "amount" in event:
        event["amount"] = round(event["amount"] + rng.choice((0.01, 1.0, 10.0)), 2)
    else:
        event["signature"] = f"changed-{rng.randint(1, 9)}"  # not the time: the watermark stays as it was
    return _dumps(event)


# Mutations that keep the source's event_id: a second valid event with it is a duplicate.
SAME_ID = ("redeliver", "conflict")

MUTATIONS: tuple[tuple[str, Callable], ...] = (
    ("redeliver", _redeliver),
    ("conflict", _conflict),
    ("amount_text", _amount_text),
    ("amount_value", _amount_value),
    ("quantity", _quantity),
    ("ts", _ts),
    ("wrong_type", _wrong_type),
    ("surrogate", _surrogate),
    ("not_utf8", _not_utf8),
    ("oversize", _oversize),
    ("near_limit", _near_limit),
    ("not_json", _not_json),
    ("repeated_key", _repeated_key),
    ("missing", _missing),
    ("unknown_values", _unknown_values),
    ("harmless", _harmless),
)


def mutate(rng: random.Random, source: dict, n: int, *, max_record_bytes: int) -> tuple[str, bytes]:
    """One hostile record made from a copy of ``source`` (its event id replaced by a new one unless
    the mutation is a duplicate); returns the mutation's name and the bytes."""
    name, mutation = MUTATIONS[n % len(MUTATIONS)]
    if name in SAME_ID:
        return name, mutation(rng, dict(source)).encode()
    event = {"event_id": f"F{n:07d}", **{k: v for k, v in source.items() if k != "event_id"}}
    if name in ("amount_text", "amount_value") and "amount" not in event:
        name, mutation = "wrong_type", _wrong_type
    if name == "quantity" and "quantity" not in event:
        name, mutation = "ts", _ts
    if name in ("oversize", "near_limit"):
        value = mutation(rng, event, max_record_bytes)
    elif name == "not_json":
        value = mutation(rng, event, n)
    else:
        value = mutation(rng, event)
    return name, value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def records(*, seed: int, count: int, max_record_bytes: int = 4096) -> list[Record]:
    """``count`` hostile records on their own (made from a small generated dataset), for unit tests."""
    dataset = generator.generate(generator.GeneratorConfig(minutes=45, orders_per_second=1.0, seed=seed))
    return interleave(dataset.orders, seed=seed, count=count, max_record_bytes=max_record_bytes)[1]


def interleave(
    orders: list[Record], *, seed: int, count: int, max_record_bytes: int
) -> tuple[list[Record], list[Record]]:
    """The order stream with ``count`` hostile records, each published right after the valid event
    it was made from (same arrival time); returns (the whole stream, the hostile records).
    ``expect`` of a hostile record stays empty: the reference contract decides it."""
    rng = random.Random(seed)
    valid = [i for i, r in enumerate(orders) if "event" in r.expect]
    # Late events are rare; one pick in twenty copies one, so late hostile records are there too.
    late = [i for i in valid if orders[i].expect.get("late")] or valid
    after: dict[int, list[Record]] = {}
    seen: set[bytes] = set()
    hostile: list[Record] = []
    empty_done = False
    for n in range(count):
        i = rng.choice(late if rng.random() < 0.05 else valid)
        source = orders[i]
        if not empty_done and n == count // 2:
            name, value, empty_done = "empty", b"", True
        else:
            name, value = mutate(rng, dict(source.expect["event"]), n, max_record_bytes=max_record_bytes)
        # A repeated rejected record would repeat its quarantine key; a duplicate event is keyed
        # by its occurrence, so those may repeat.
        if (value in seen and name not in SAME_ID) or b"\n" in value or b"\r" in value:
            continue
        seen.add(value)
        record = Record(stream="order-events", key=source.key, value=value, arrival_ms=source.arrival_ms)
        record.expect = {"source_late": bool(source.expect.get("late"))}
        after.setdefault(i, []).append(record)
        hostile.append(record)
    stream: list[Record] = []
    for i, record in enumerate(orders):
        stream.append(record)
        stream.extend(after.get(i, []))
    return stream, hostile
