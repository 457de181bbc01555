"""The reference reading of one Debezium change record, in plain Python (independent of the SQL in
sql/flink/stg_customers.sql and stg_products.sql, which must agree with it record by record).

``read_change`` returns ``("skip", None)`` for a tombstone, ``("reject", reason)`` for a record the
job must quarantine, or ``("change", version)`` with the version the temporal join must see.
"""

from __future__ import annotations

import json
import re

from lakehouse import contract

KEYS = {"customers": "customer_id", "products": "product_id"}
FIELDS = {"customers": ("name", "region", "segment"), "products": ("name", "category", "price")}


def read_change(value: str | None, stream: str, *, arrival_ms: int, envelope: str = "auto") -> tuple[str, object]:
    """Classify one raw record of the customers or products topic (see lakehouse/sources/cdc.py)."""
    if value is None:
        return "skip", None
    key = KEYS[stream]
    try:
        record = json.loads(value, parse_constant=_no_constant)
    except ValueError:  # JSONDecodeError, and NaN or Infinity, which JSON does not have
        return "reject", "invalid JSON"
    if not isinstance(record, dict):
        return "reject", "invalid JSON"
    env = _envelope(record, envelope)
    if not isinstance(env, dict):
        return "reject", "missing field: payload (schema-wrapped envelope expected)"
    op = _scalar(env, "op")
    if op is None:
        return "reject", "missing field: op"
    if op not in ("c", "u", "r", "d"):
        return "reject", "unknown op"
    deleted = op == "d"
    image = env.get("before" if deleted else "after")
    image = image if isinstance(image, dict) else {}
    if _scalar(image, key) is None:
        return "reject", f"missing field: {'before' if deleted else 'after'}.{key}"
    if deleted:
        raw = _scalar(env.get("source") if isinstance(env.get("source"), dict) else {}, "ts_ms")
        raw = raw if raw is not None else _scalar(env, "ts_ms")
        name = "source.ts_ms"
    else:
        raw = _scalar(image, "updated_at")
        name = "after.updated_at"
    if raw is None:
        return "reject", f"missing field: {name}"
    version_ms = _to_int(raw)
    if not deleted and version_ms is None:
        return "reject", f"wrong type: {name}"
    price = None
    if stream == "products" and not deleted:
        price_raw = _scalar(image, "price")
        if price_raw is None:
            return "reject", "missing field: after.price"
        price = _to_float(price_raw)
        if price is None:
            return "reject", "wrong type: after.price (decimal.handling.mode must be double or string)"
        if not 0 < price <= contract.MAX_PRICE:  # NaN and the infinities too
            return "reject", "price out of range"
    if deleted and version_ms is None:
        return "reject", f"wrong type: {name}"
    if version_ms <= 0 or version_ms > arrival_ms + contract.MAX_FUTURE_SKEW_HOURS * 3_600_000:
        return "reject", "version time out of range"
    version = {key: _scalar(image, key), "updated_at": version_ms, "is_deleted": deleted}
    for field in FIELDS[stream]:
        version[field] = None if deleted else _scalar(image, field)
    if stream == "products":
        version["price"] = price
    return "change", version


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _envelope(record: dict, mode: str) -> object:
    if mode == "plain":
        return record
    if mode == "schema" or ("schema" in record and "payload" in record):
        return record.get("payload")
    return record


def _scalar(obj: dict, name: str) -> str | None:
    """What JSON_VALUE gives: a scalar as text, None for a missing field, null or a nested value."""
    value = obj.get(name)
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _to_int(text: str) -> int | None:
    """Epoch milliseconds: digits only, as a JSON integer or a string of one (1.5 or 1e12 are not)."""
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else None


def _to_float(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None
