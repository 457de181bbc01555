"""The rows the serving side handles: parsed from the speed topics or read from gold Delta, in one shape.

A metric or anomaly is a dict with the gold table's columns; timestamps become ISO-8601 UTC strings
ending in "Z" (what the API and the page show) and ``window_ms``, the window start in epoch
milliseconds (what the stores sort by). Pure functions: unit-tested without services.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lakehouse.lake import tables

METRIC_COLUMNS = tables.METRICS_1M.column_names()
ANOMALY_COLUMNS = tables.ANOMALIES.column_names()
_TIMESTAMPS = {"window_start", "window_end"}


class BadRow(ValueError):
    """A topic message that is not a row of the expected shape (counted and skipped, never fatal)."""


def to_utc(value: object) -> datetime:
    """A timestamp from Flink's ISO-8601 JSON (no zone: UTC), an ISO string with a zone, or a datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
        except ValueError as error:
            raise BadRow(f"not an ISO-8601 timestamp: {value!r}") from error
    else:
        raise BadRow(f"not a timestamp: {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def normalise(record: dict, columns: list[str]) -> dict:
    """Keep ``columns``, timestamps as ISO UTC strings, plus ``window_ms``; BadRow when a column is missing."""
    missing = [c for c in columns if c not in record]
    if missing:
        raise BadRow(f"missing {', '.join(missing)}")
    row = {}
    for column in columns:
        value = record[column]
        row[column] = iso(to_utc(value)) if column in _TIMESTAMPS and value is not None else value
    row["window_ms"] = epoch_ms(to_utc(record["window_start"]))
    return row


def parse(payload: bytes | str | None, columns: list[str]) -> dict:
    if payload is None:
        raise BadRow("empty message")
    try:
        record = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRow(f"not JSON: {error}") from error
    if not isinstance(record, dict):
        raise BadRow("not a JSON object")
    return normalise(record, columns)


def metric_field(row: dict) -> str:
    """The field of a metric within its window: region and category."""
    return f"{row['region']}|{row['category']}"


def anomaly_id(row: dict) -> str:
    """The anomaly's key (rule, window, region, category): a replayed firing maps to the same id."""
    return f"{row['rule_id']}|{row['window_ms']}|{row['region']}|{row['category']}"


def dumps(row: dict) -> str:
    """Canonical JSON (sorted keys), so equal rows are equal strings (Redis compares members as bytes)."""
    return json.dumps(row, sort_keys=True, separators=(",", ":"))
