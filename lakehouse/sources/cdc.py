"""Change data capture: how the job reads Debezium's change records, and the connector it expects.

The customers and products topics are read raw (one string per Kafka record) and parsed in SQL
(sql/flink/src_*, stg_*, dim_*), never with Flink's ``debezium-json`` format: that format stops the
job on a record it cannot read (a schema-wrapped envelope when it expects a plain one, an update
without ``before``, a base64 decimal) or, with ``ignore-parse-errors``, drops it silently. Here a
change that breaks the rules below goes to bronze.quarantine with its reason, and the job goes on.

The rules, in the order a reason is chosen (docs/CDC.md lists them for operators):
- the value must be one JSON object and nothing after it; a null value (a tombstone after a
  delete) is skipped, it carries no change; with ``cdc_envelope = schema`` the record must be JsonConverter's {schema, payload};
- ``op`` is c, u, r (snapshot) or d; anything else (t truncate, m message, unknown) is quarantined;
- c/u/r need ``after.<key>`` and ``after.updated_at`` (epoch milliseconds, an integer); ``before`` is never
  read for them, so an update without ``before`` (the default replica identity) is fine;
- d needs ``before.<key>`` (the default replica identity gives the key) and takes effect at the
  delete's own time, ``source.ts_ms`` (the commit in the database), else the envelope's ``ts_ms``;
- products need a numeric ``after.price`` (decimal.handling.mode double or string; the default,
  precise, sends base64 bytes, which are quarantined), above 0 and at most ``contract.MAX_PRICE``:
  NaN and the infinities are quarantined too, so no table gets a non-finite price.

A delete becomes a version of the key with ``is_deleted``: an order after it finds that version,
so it is quarantined as unknown, like an order for a key that never existed.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from lakehouse.config import Settings

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


# --- the Debezium connector the job expects ------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CdcSettings:
    """Where the backoffice database and Kafka Connect are, and what the connector is called.

    Read from the same environment variables as infra/stack.env (POSTGRES_PORT, CONNECT_REST_PORT,
    ...). The replication role's password is never read here: the connector names
    ``${env:POSTGRES_CDC_PASSWORD}`` and the Connect worker resolves it from its own environment.
    """

    connect_rest: str = "http://127.0.0.1:8083"
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_db: str = "backoffice"
    postgres_schema: str = "backoffice"
    cdc_user: str = "debezium"
    app_user: str = "backoffice"
    app_password: str = field(default="", repr=False)
    connector: str = "backoffice-cdc"
    server_name: str = "backoffice"  # Debezium's topic.prefix, before the rename to the job's topics
    slot: str = "lakehouse_cdc"
    publication: str = "lakehouse_cdc"
    heartbeat_interval_ms: int = 10_000


def load_settings(**overrides) -> CdcSettings:
    """CdcSettings from the environment (infra/stack.env's names), then ``overrides``."""
    env = os.environ
    port = env.get("CONNECT_REST_PORT", "8083")
    values = {
        "connect_rest": env.get("LAKEHOUSE_CONNECT_REST") or f"http://127.0.0.1:{port}",
        "postgres_host": env.get("POSTGRES_HOST") or "127.0.0.1",
        "postgres_port": int(env.get("POSTGRES_PORT") or 5432),
        "postgres_db": env.get("POSTGRES_DB") or "backoffice",
        "cdc_user": env.get("POSTGRES_CDC_USER") or "debezium",
        "app_user": env.get("POSTGRES_APP_USER") or "backoffice",
        "app_password": env.get("POSTGRES_APP_PASSWORD") or "",
        "connector": env.get("LAKEHOUSE_CDC_CONNECTOR") or "backoffice-cdc",
        "slot": env.get("LAKEHOUSE_CDC_SLOT") or "lakehouse_cdc",
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return CdcSettings(**values)


def connector_config(settings: Settings, cdc: CdcSettings) -> dict[str, str]:
    """The Debezium PostgreSQL connector configuration the job expects (docs/CDC.md explains each).

    Topics are renamed to the job's ``<topic_prefix>customers`` and ``<topic_prefix>products``;
    ``value.converter.schemas.enable`` follows ``settings.cdc_envelope`` (auto keeps the schema).
    """
    tables = ("customers", "products")
    schemas = "false" if settings.cdc_envelope == "plain" else "true"
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": cdc.postgres_host,
        "database.port": str(cdc.postgres_port),
        "database.user": cdc.cdc_user,
        "database.password": "${env:POSTGRES_CDC_PASSWORD}",
        "database.dbname": cdc.postgres_db,
        "topic.prefix": cdc.server_name,
        "slot.name": cdc.slot,
        "publication.name": cdc.publication,
        "publication.autocreate.mode": "disabled",
        "table.include.list": ",".join(f"{cdc.postgres_schema}.{t}" for t in tables),
        "snapshot.mode": "initial",
        # Numbers and times as the job reads them: price a JSON double, updated_at epoch ms.
        "decimal.handling.mode": "double",
        "time.precision.mode": "connect",
        # A delete is followed by a tombstone (for compacted topics); the job skips tombstones.
        "tombstones.on.delete": "true",
        # Heartbeats (to __debezium-heartbeat.<topic.prefix>) let the slot advance while the
        # captured tables are quiet, so PostgreSQL can recycle WAL.
        "heartbeat.interval.ms": str(cdc.heartbeat_interval_ms),
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": schemas,
        "transforms": "route",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": rf"{re.escape(cdc.server_name)}\.{re.escape(cdc.postgres_schema)}\.({'|'.join(tables)})",
        "transforms.route.replacement": f"{settings.topic_prefix}$1",
    }


def register(settings: Settings, cdc: CdcSettings, *, timeout: float = 30.0) -> dict:
    """Create or update the connector (PUT /connectors/<name>/config is idempotent)."""
    return _rest(
        "PUT", f"{cdc.connect_rest}/connectors/{cdc.connector}/config", connector_config(settings, cdc), timeout
    )


def status(cdc: CdcSettings, *, timeout: float = 10.0) -> dict:
    """The connector's and its tasks' states as Kafka Connect reports them."""
    return _rest("GET", f"{cdc.connect_rest}/connectors/{cdc.connector}/status", None, timeout)


def connectors(cdc: CdcSettings, *, timeout: float = 10.0) -> list[str]:
    """The names of every connector Kafka Connect runs."""
    return list(_rest("GET", f"{cdc.connect_rest}/connectors", None, timeout))


def delete(cdc: CdcSettings, *, timeout: float = 30.0) -> None:
    """Remove the connector (its replication slot stays in PostgreSQL until dropped there)."""
    _rest("DELETE", f"{cdc.connect_rest}/connectors/{cdc.connector}", None, timeout)


def is_running(report: dict) -> bool:
    tasks = report.get("tasks") or []
    return (
        report.get("connector", {}).get("state") == "RUNNING"
        and bool(tasks)
        and all(t.get("state") == "RUNNING" for t in tasks)
    )


def _rest(method: str, url: str, body: dict | None, timeout: float) -> dict | list:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{method} {url}: HTTP {error.code}: {error.read().decode()[:500]}") from None
    return json.loads(text) if text.strip() else {}
