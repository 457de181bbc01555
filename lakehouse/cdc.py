"""Change data capture: how the job reads Debezium's change records, and the connector it expects.

The customers and products topics are read raw (one string per Kafka record) and parsed in SQL
(sql/flink/src_*, stg_*, dim_*), never with Flink's ``debezium-json`` format: that format stops the
job on a record it cannot read (a schema-wrapped envelope when it expects a plain one, an update
without ``before``, a base64 decimal) or, with ``ignore-parse-errors``, drops it silently. Here a
change that breaks the rules below goes to bronze.quarantine with its reason, and the job goes on.

The rules, in the order a reason is chosen (docs/CDC.md lists them for operators):
- the value must be a JSON object; a null value (a tombstone after a delete) is skipped, it carries
  no change; with ``cdc_envelope = schema`` the record must be JsonConverter's {schema, payload};
- ``op`` is c, u, r (snapshot) or d; anything else (t truncate, m message, unknown) is quarantined;
- c/u/r need ``after.<key>`` and ``after.updated_at`` (epoch milliseconds); ``before`` is never
  read for them, so an update without ``before`` (the default replica identity) is fine;
- d needs ``before.<key>`` (the default replica identity gives the key) and takes effect at the
  delete's own time, ``source.ts_ms`` (the commit in the database), else the envelope's ``ts_ms``;
- products need a numeric ``after.price`` (decimal.handling.mode double or string; the default,
  precise, sends base64 bytes, which are quarantined).

A delete becomes a version of the key with ``is_deleted``: an order after it finds that version,
so it is quarantined as unknown, like an order for a key that never existed.
"""

from __future__ import annotations

# cdc_envelope setting -> SQL expression giving the Debezium envelope (before/after/op/source/ts_ms)
# of a raw record ``payload``. "auto" takes JsonConverter's schema-wrapped form when the record has
# it ({"schema": ..., "payload": {...}}) and the plain form otherwise.
ENVELOPES = {
    "plain": "payload",
    "schema": "json_query(payload, '$.payload')",
    "auto": (
        "case when json_exists(payload, '$.schema') and json_exists(payload, '$.payload')"
        " then json_query(payload, '$.payload') else payload end"
    ),
}


def envelope_expression(mode: str) -> str:
    """The SQL expression for the ``cdc_envelope`` setting (auto, schema or plain)."""
    try:
        return ENVELOPES[mode]
    except KeyError:
        raise ValueError(f"unknown cdc_envelope {mode!r}; expected one of {', '.join(ENVELOPES)}") from None
