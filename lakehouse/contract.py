"""The order-events contract: what a valid event is, and the reason given when it is not.

Declared once, here. ``sql/flink/stg_order_events.sql`` takes its checks from ``sql_checks()``
(the field list, the check order, every reason string and every bound), the reference model in
tests/ reads the same declarations, and docs/DESIGN.md ("The data contract") lists the classes of
bad input and where each goes.

Checks run in this order; the first one broken is the record's reason:

1. the record itself: a value at all (``empty record``), at most ``max_record_bytes``
   (``record too large``), UTF-8 (``invalid UTF-8``; the quarantine keeps the bytes as base64);
2. one JSON object (``invalid JSON``), every declared field of its declared JSON type when present
   (``wrong type: <field>``), every string storable as UTF-8 (``invalid text: <field>``);
3. the header: ``event_id``, ``event_type``, ``order_id``, ``ts_ms`` present; a known event type;
   an event time in the plausible range (``event time too far in the past`` / ``... future``);
4. the fields the event type requires, then the values of the fields present: quantity and
   amount positive, finite and within their bounds, a known currency.

A valid event whose event_id was already seen on a valid event is not a new event: it goes to the
quarantine as ``duplicate event_id, same content`` (a redelivery) or ``..., different content``
(a conflict), keyed by ``duplicate_record_id``; the first one stays in silver.

The Spark peer of the benchmark (bench/peers/spark_streaming.py) reads its reasons from here too,
and so do the quality suites (lakehouse/quality/suites.py: event types, required fields, currencies,
reasons), the read model (lakehouse/lake/read_model.py) and the EUR conversion (``to_eur``, used by
udfs/currency.py). tests/unit/test_contract.py fails when a literal of the contract reappears in
sql/flink/ or in those modules.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

ORDER_PLACED = "ORDER_PLACED"
PAYMENT_RECEIVED = "PAYMENT_RECEIVED"
STOCK_RESERVED = "STOCK_RESERVED"
SHIPPED = "SHIPPED"
DELIVERED = "DELIVERED"
CANCELLED = "CANCELLED"
EVENT_TYPES = (ORDER_PLACED, PAYMENT_RECEIVED, STOCK_RESERVED, SHIPPED, DELIVERED, CANCELLED)
CURRENCIES = ("EUR", "USD", "GBP")
# Fixed conversion rates (units of currency per 1 EUR), as a finance team would publish daily.
RATES_PER_EUR = {"EUR": 1.0, "USD": 1.08, "GBP": 0.85}

# Events may arrive this far behind the newest event seen; later ones are "late".
WATERMARK_DELAY_MS = 5_000
# Event times more than this ahead of the record's arrival at the source are out of contract.
MAX_FUTURE_SKEW_HOURS = 24
# Plausible event times, whatever the arrival time: from 2000-01-01 to before 2100-01-01 (UTC).
MIN_EVENT_TIME_MS = 946_684_800_000
MAX_EVENT_TIME_MS = 4_102_444_799_999
# Bounds of the values an order can carry (in the event's currency for amount).
MAX_QUANTITY = 10_000
MAX_AMOUNT = 1_000_000.0
# A product's price from the products change stream (lakehouse/sources/cdc.py): positive, finite and at
# most this, or the change is quarantined ("price out of range") and no table gets a non-finite price.
MAX_PRICE = MAX_AMOUNT
# A record larger than this (bytes, as published) is quarantined unparsed; Settings.max_record_bytes
# overrides it per deployment (LAKEHOUSE_MAX_RECORD_BYTES).
MAX_RECORD_BYTES = 1_048_576
# The quarantine keeps a payload that is not UTF-8 as this prefix and the Base64 of its bytes
# (written by the raw_record function in udfs/java).
BASE64_PREFIX = "base64:"

REASON_EMPTY = "empty record"
REASON_TOO_LARGE = "record too large"
REASON_NOT_UTF8 = "invalid UTF-8"
REASON_BAD_JSON = "invalid JSON"
REASON_UNKNOWN_TYPE = "unknown event_type"
REASON_PAST = "event time too far in the past"
REASON_FUTURE = "event time too far in the future"
REASON_NON_POSITIVE_QUANTITY = "quantity must be positive"
REASON_QUANTITY_RANGE = "quantity out of range"
REASON_NON_POSITIVE_AMOUNT = "amount must be positive"
REASON_AMOUNT_RANGE = "amount out of range"
REASON_UNKNOWN_CURRENCY = "unknown currency"
# A valid event whose event_id an earlier valid event already had: the first stays in silver.
REASON_DUPLICATE = "duplicate event_id, same content"
REASON_DUPLICATE_CONFLICT = "duplicate event_id, different content"
REASON_UNKNOWN_CUSTOMER = "unknown customer_id at event time"
REASON_UNKNOWN_PRODUCT = "unknown product_id at event time"

ALL = "*"  # required by every event type


@dataclass(frozen=True)
class Field:
    """A field of an order event: its JSON type and the event types that require it."""

    name: str
    json_type: str  # string | integer (no fraction, no exponent) | number
    required_by: tuple[str, ...] | str = ()
    column: str = ""  # its column in silver when the name differs

    @property
    def column_name(self) -> str:
        return self.column or self.name

    @property
    def typed_column(self) -> str:
        """Its typed column in the staging view and silver: a ``*_raw`` text column is parsed into
        a column named after the field."""
        return self.name if self.column.endswith("_raw") else self.column_name


FIELDS = (
    Field("event_id", "string", ALL),
    Field("event_type", "string", ALL),
    Field("order_id", "string", ALL),
    Field("ts_ms", "integer", ALL, column="ts_raw"),
    Field("customer_id", "string", ("ORDER_PLACED",)),
    Field("product_id", "string", ("ORDER_PLACED",)),
    Field("quantity", "integer", ("ORDER_PLACED",), column="quantity_raw"),
    Field("amount", "number", ("ORDER_PLACED", "PAYMENT_RECEIVED"), column="amount_raw"),
    Field("currency", "string", ("ORDER_PLACED", "PAYMENT_RECEIVED")),
    Field("payment_id", "string", ("PAYMENT_RECEIVED",)),
    Field("warehouse", "string", ("STOCK_RESERVED",)),
    Field("carrier", "string", ("SHIPPED",)),
    Field("signature", "string"),
    Field("reason", "string", ("CANCELLED",), column="cancel_reason"),
)


def required_columns(event_type: str) -> tuple[str, ...]:
    """The typed columns an event of ``event_type`` must carry, beyond the header every event has."""
    return tuple(f.typed_column for f in FIELDS if f.required_by != ALL and event_type in f.required_by)


def to_eur(amount: float, currency: str) -> float:
    """``amount`` in ``currency`` converted to EUR at the contract's fixed rate, rounded to the cent."""
    return round(amount / RATES_PER_EUR[currency], 2)


def reason_missing(field: str) -> str:
    return f"missing field: {field}"


def reason_wrong_type(field: str) -> str:
    return f"wrong type: {field}"


def reason_invalid_text(field: str) -> str:
    return f"invalid text: {field}"


def record_id(payload: str | None, position: str) -> str:
    """The quarantine key: the md5 of the stored payload, or of the record's position in its source
    (topic/partition/offset, or the file) when there is no payload to hash, so a replay of the same
    record finds the same key."""
    return hashlib.md5((payload if payload else position).encode()).hexdigest()


def duplicate_record_id(record_id: str, occurrence: int) -> str:
    """The quarantine key of the ``occurrence``-th valid event with one event_id (2 for the first
    duplicate): a redelivered record has its first occurrence's record_id, so the key counts."""
    return hashlib.md5(f"{record_id}/{occurrence}".encode()).hexdigest()


def stored_payload(value: bytes | None) -> str | None:
    """The payload the quarantine keeps: the text, or the Base64 of bytes that are not UTF-8."""
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return BASE64_PREFIX + base64.b64encode(value).decode("ascii")


def original_bytes(payload: str | None) -> bytes | None:
    """The bytes a quarantined record was published with (the inverse of ``stored_payload``)."""
    if payload is None:
        return None
    if payload.startswith(BASE64_PREFIX):
        return base64.b64decode(payload[len(BASE64_PREFIX) :])
    return payload.encode("utf-8")


# --- the same checks as Flink SQL (sql/flink/stg_order_events.sql) --------------------------


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(_lit(v) for v in values) + ")"


def sql_field_spec() -> str:
    """json_object_fields' field list: every declared field with its JSON type."""
    return ",".join(f"{f.name}:{f.json_type}" for f in FIELDS)


def sql_field_columns() -> str:
    """The columns json_object_fields emits, as the staging view names them."""
    return ", ".join(["is_json", *(f.column_name for f in FIELDS), "wrong_type", "bad_text"])


def sql_checks(*, max_record_bytes: int = MAX_RECORD_BYTES) -> str:
    """The arms of the CASE that gives a record's reason, in the contract's order."""
    arms = [
        ("payload is null or size_bytes = 0", REASON_EMPTY),
        (f"size_bytes > {int(max_record_bytes)}", REASON_TOO_LARGE),
        ("not is_utf8", REASON_NOT_UTF8),
        ("not is_json", REASON_BAD_JSON),
    ]
    lines = [f"when {condition} then {_lit(reason)}" for condition, reason in arms]
    lines.append(f"when wrong_type is not null then {_lit(reason_wrong_type(''))} || wrong_type")
    lines.append(f"when bad_text is not null then {_lit(reason_invalid_text(''))} || bad_text")
    for f in FIELDS:
        if f.required_by == ALL:
            lines.append(f"when {f.column_name} is null then {_lit(reason_missing(f.name))}")
    lines += [
        f"when event_type not in {_in(EVENT_TYPES)} then {_lit(REASON_UNKNOWN_TYPE)}",
        # A JSON integer beyond BIGINT: far out on the side its sign says.
        f"when ts_ms is null then case when ts_raw like '-%' then {_lit(REASON_PAST)} else {_lit(REASON_FUTURE)} end",
        f"when ts_ms < {MIN_EVENT_TIME_MS} then {_lit(REASON_PAST)}",
        f"when ts_ms > {MAX_EVENT_TIME_MS} then {_lit(REASON_FUTURE)}",
        f"when to_timestamp_ltz(ts_ms, 3) > arrival_time + interval '{MAX_FUTURE_SKEW_HOURS}' hour "
        f"then {_lit(REASON_FUTURE)}",
    ]
    for f in FIELDS:
        if f.required_by and f.required_by != ALL:
            lines.append(
                f"when event_type in {_in(f.required_by)} and {f.column_name} is null then {_lit(reason_missing(f.name))}"
            )
    lines += [
        f"when quantity_raw is not null and try_cast(quantity_raw as int) is null then {_lit(REASON_QUANTITY_RANGE)}",
        f"when quantity_raw is not null and try_cast(quantity_raw as int) <= 0 then {_lit(REASON_NON_POSITIVE_QUANTITY)}",
        f"when quantity_raw is not null and try_cast(quantity_raw as int) > {MAX_QUANTITY} "
        f"then {_lit(REASON_QUANTITY_RANGE)}",
        f"when amount_raw is not null and try_cast(amount_raw as double) <= 0 then {_lit(REASON_NON_POSITIVE_AMOUNT)}",
        # NaN, an infinity and a number beyond double range all fail "<= MAX_AMOUNT".
        f"when amount_raw is not null and not coalesce(try_cast(amount_raw as double) <= {MAX_AMOUNT!r}, false) "
        f"then {_lit(REASON_AMOUNT_RANGE)}",
        f"when currency is not null and currency not in {_in(CURRENCIES)} then {_lit(REASON_UNKNOWN_CURRENCY)}",
    ]
    return "\n            ".join(lines)


def sql_values(*, max_record_bytes: int = MAX_RECORD_BYTES) -> dict[str, object]:
    """Placeholders of the staging SQL, all derived from the declarations above."""
    return {
        "field_spec": sql_field_spec(),
        "field_columns": sql_field_columns(),
        "contract_checks": sql_checks(max_record_bytes=max_record_bytes),
        "max_record_bytes": int(max_record_bytes),
        "min_event_time_ms": MIN_EVENT_TIME_MS,
        "max_event_time_ms": MAX_EVENT_TIME_MS,
        "max_future_skew_hours": MAX_FUTURE_SKEW_HOURS,
        "watermark_delay_seconds": f"{WATERMARK_DELAY_MS / 1000:.3f}",
        "max_price": repr(MAX_PRICE),
        "reason_duplicate": _lit(REASON_DUPLICATE),
        "reason_duplicate_conflict": _lit(REASON_DUPLICATE_CONFLICT),
        "reason_unknown_customer": _lit(REASON_UNKNOWN_CUSTOMER),
        "reason_unknown_product": _lit(REASON_UNKNOWN_PRODUCT),
        "order_placed": _lit(ORDER_PLACED),
    }
