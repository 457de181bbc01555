"""Hostile order records: a broken copy of a valid event (bad JSON, a missing key, a wrong type, a
non-positive amount, a far-future timestamp, an unknown event type or customer) paired with the quarantine
reason the pipeline must give it."""

from __future__ import annotations

import json
import random

from lakehouse import contract
from lakehouse.sources.event_model import DAY_MS

DEFECTS = (
    "bad_json",
    "missing_key",
    "wrong_type",
    "non_positive_amount",
    "future_ts",
    "unknown_type",
    "unknown_customer",
)


def corrupt(rng: random.Random, event: dict, n: int) -> tuple[str, str]:
    """Return a broken copy of ``event`` and the quarantine reason the pipeline must give it."""
    event["event_id"] = f"Q{n + 1:07d}"
    defect = DEFECTS[n % len(DEFECTS)]
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
