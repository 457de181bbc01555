"""The order-events contract: what a valid event is, and the reason given when it is not.

The Flink SQL in ``sql/flink/stg_order_events.sql`` applies these checks in the same order and
with the same reason strings; the reference model, the tests and the Spark peer (bench/peers/spark_streaming.py) read them from here.
"""

from __future__ import annotations

EVENT_TYPES = ("ORDER_PLACED", "PAYMENT_RECEIVED", "STOCK_RESERVED", "SHIPPED", "DELIVERED", "CANCELLED")
CURRENCIES = ("EUR", "USD", "GBP")
# Fixed conversion rates (units of currency per 1 EUR), as a finance team would publish daily.
RATES_PER_EUR = {"EUR": 1.0, "USD": 1.08, "GBP": 0.85}

# Events may arrive this far behind the newest event seen; later ones are "late".
WATERMARK_DELAY_MS = 5_000
# Event times more than this ahead of the record's arrival at the source are out of contract.
MAX_FUTURE_SKEW_HOURS = 24

REASON_BAD_JSON = "invalid JSON"
REASON_NON_POSITIVE_AMOUNT = "amount must be positive"
REASON_NON_POSITIVE_QUANTITY = "quantity must be positive"
REASON_FUTURE = "event time too far in the future"
REASON_UNKNOWN_TYPE = "unknown event_type"
REASON_UNKNOWN_CUSTOMER = "unknown customer_id at event time"
REASON_UNKNOWN_PRODUCT = "unknown product_id at event time"
REASON_UNKNOWN_CURRENCY = "unknown currency"


def reason_missing(field: str) -> str:
    return f"missing field: {field}"


def reason_wrong_type(field: str) -> str:
    return f"wrong type: {field}"
