"""The order-events contract in plain Python: what the pipeline must decide for one published record.

Written from the declarations in lakehouse/contract.py (fields, types, bounds, reasons, order),
never from the Flink SQL that implements them, so the two can be compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lakehouse import contract

_INT32 = (-(2**31), 2**31 - 1)
_SKEW_MS = contract.MAX_FUTURE_SKEW_HOURS * 3_600_000


@dataclass(frozen=True)
class Verdict:
    """Where one record goes: ``reason`` None means a valid ``event``."""

    record_id: str
    payload: str | None  # as the quarantine keeps it
    reason: str | None
    event: dict | None  # the parsed object (valid events and contract-valid ones alike)
    event_time_ms: int | None  # the quarantine's event_time: a plausible ts_ms, else None


def check(
    value: bytes | None,
    *,
    arrival_ms: int,
    position: str,
    max_record_bytes: int = contract.MAX_RECORD_BYTES,
) -> Verdict:
    payload = contract.stored_payload(value)
    record_id = contract.record_id(payload, position)

    def out(reason: str | None, event: dict | None = None) -> Verdict:
        return Verdict(record_id, payload, reason, event, _plausible_ts(event, arrival_ms))

    if not value:
        return out(contract.REASON_EMPTY)
    if len(value) > max_record_bytes:
        return out(contract.REASON_TOO_LARGE)
    if payload.startswith(contract.BASE64_PREFIX) and not _utf8_ok(value):
        return out(contract.REASON_NOT_UTF8)
    event = _object(payload)
    if event is None:
        return out(contract.REASON_BAD_JSON)
    present = {f.name: event[f.name] for f in contract.FIELDS if event.get(f.name) is not None}
    for f in contract.FIELDS:
        if f.name in present and not _has_type(present[f.name], f.json_type):
            return out(contract.reason_wrong_type(f.name), event)
    for f in contract.FIELDS:
        if isinstance(present.get(f.name), str) and not _utf8_ok(present[f.name]):
            return out(contract.reason_invalid_text(f.name), event)
    for f in contract.FIELDS:
        if f.required_by == contract.ALL and f.name not in present:
            return out(contract.reason_missing(f.name), event)
    if present["event_type"] not in contract.EVENT_TYPES:
        return out(contract.REASON_UNKNOWN_TYPE, event)
    ts = present["ts_ms"]
    if ts < contract.MIN_EVENT_TIME_MS:  # below BIGINT too
        return out(contract.REASON_PAST, event)
    if ts > contract.MAX_EVENT_TIME_MS or ts > arrival_ms + _SKEW_MS:  # beyond BIGINT too
        return out(contract.REASON_FUTURE, event)
    for f in contract.FIELDS:
        if f.required_by and f.required_by != contract.ALL:
            if present["event_type"] in f.required_by and f.name not in present:
                return out(contract.reason_missing(f.name), event)
    quantity = present.get("quantity")
    if quantity is not None:
        if not _INT32[0] <= quantity <= _INT32[1]:
            return out(contract.REASON_QUANTITY_RANGE, event)
        if quantity <= 0:
            return out(contract.REASON_NON_POSITIVE_QUANTITY, event)
        if quantity > contract.MAX_QUANTITY:
            return out(contract.REASON_QUANTITY_RANGE, event)
    amount = present.get("amount")
    if amount is not None:
        if amount <= 0:
            return out(contract.REASON_NON_POSITIVE_AMOUNT, event)
        if not amount <= contract.MAX_AMOUNT:  # an infinity (1e400) too
            return out(contract.REASON_AMOUNT_RANGE, event)
    currency = present.get("currency")
    if currency is not None and currency not in contract.CURRENCIES:
        return out(contract.REASON_UNKNOWN_CURRENCY, event)
    return out(None, event)


def _plausible_ts(event: dict | None, arrival_ms: int) -> int | None:
    ts = (event or {}).get("ts_ms")
    if not isinstance(ts, int) or isinstance(ts, bool):
        return None
    if contract.MIN_EVENT_TIME_MS <= ts <= contract.MAX_EVENT_TIME_MS and ts <= arrival_ms + _SKEW_MS:
        return ts
    return None


def _utf8_ok(value: bytes | str) -> bool:
    """Whether UTF-8 takes ``value``: bytes decode, text encodes (a lone surrogate does not)."""
    try:
        value.decode("utf-8") if isinstance(value, bytes) else value.encode("utf-8")
    except UnicodeError:
        return False
    return True


def _object(text: str) -> dict | None:
    def no_constants(name: str):
        raise ValueError(f"{name} is not JSON")

    try:
        value = json.loads(text, parse_constant=no_constants)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _has_type(value: object, json_type: str) -> bool:
    if isinstance(value, bool):
        return json_type == "boolean"
    if json_type == "string":
        return isinstance(value, str)
    if json_type == "integer":
        return isinstance(value, int)
    if json_type == "number":
        return isinstance(value, int | float)
    return True
