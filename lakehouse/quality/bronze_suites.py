"""The bronze suites: what the quarantine and the late-event tables' rows must satisfy (contract
reasons, content-derived record ids, late events behind the watermark they arrived under)."""

from __future__ import annotations

import hashlib
import re

import great_expectations.expectations as gxe

from lakehouse import contract
from lakehouse.quality.expectations import (
    Check,
    Inputs,
    at_least,
    epoch_ms,
    holds,
    in_set,
    named,
    not_after,
    not_null,
    unique,
)

SOURCE_STREAMS = ("order-events", "customers", "products")


def quarantine(inputs: Inputs) -> list[Check]:
    df = inputs.frame.copy()
    # A record without a payload (a Kafka record with no value, an empty one) is keyed by its
    # position in the source instead (contract.record_id): only the reason says so.
    # A duplicate event is keyed by its occurrence too (contract.duplicate_record_id).
    duplicates = (contract.REASON_DUPLICATE, contract.REASON_DUPLICATE_CONFLICT)
    df["record_id_is_md5_of_payload"] = [
        reason in duplicates or (r == hashlib.md5(p.encode()).hexdigest() if p else reason == contract.REASON_EMPTY)
        for r, p, reason in zip(df["record_id"], df["payload"], df["reason"], strict=True)
    ]
    df["payload_is_text_or_base64"] = [
        not p or not p.startswith(contract.BASE64_PREFIX) or reason == contract.REASON_NOT_UTF8
        for p, reason in zip(df["payload"], df["reason"], strict=True)
    ]
    fixed = [value for name, value in vars(contract).items() if name.startswith("REASON_")]
    per_field = (contract.reason_missing(""), contract.reason_wrong_type(""), contract.reason_invalid_text(""))
    pattern = (
        "^(?:"
        + "|".join(re.escape(r) for r in sorted(set(fixed)))
        + "".join(f"|{re.escape(prefix)}\\w+" for prefix in per_field)
        + ")$"
    )
    expectations = [
        *not_null("record_id", "source_stream", "reason"),
        unique("record_id"),
        in_set("source_stream", SOURCE_STREAMS),
        named(
            gxe.ExpectColumnValuesToMatchRegex,
            "reason is a contract reason",
            "every reason is one of the contract's reason strings (lakehouse/contract.py)",
            column="reason",
            regex=pattern,
        ),
        holds(
            "record_id_is_md5_of_payload",
            "record_id is the md5 of the payload (content-derived), of its source position for an empty"
            " record, or of the payload's md5 and occurrence for a duplicate event",
        ),
        holds("payload_is_text_or_base64", "a payload kept as base64 is one whose bytes were not UTF-8"),
    ]
    return [Check(name="rows", frame=df, expectations=expectations, index=["record_id"])]


def late_events(inputs: Inputs) -> list[Check]:
    df = inputs.frame.copy()
    df["event_ms"] = epoch_ms(df["event_time"])
    df["watermark_ms"] = epoch_ms(df["watermark_at_arrival"])
    expectations = [
        *not_null("event_id", "event_type", "order_id", "event_time", "watermark_at_arrival", "payload"),
        unique("event_id"),
        in_set("event_type", contract.EVENT_TYPES),
        at_least("lateness_seconds", 0),
        not_after("event_ms", "watermark_ms", "a late event is at or behind the watermark it arrived under"),
    ]
    return [Check(name="rows", frame=df, expectations=expectations, index=["event_id"])]
