"""The backoffice writer's statements and the connector configuration (no services)."""

from __future__ import annotations

import json
import re

import pytest

from lakehouse import config
from lakehouse.sources import backoffice, cdc, generator
from lakehouse.sources.generator import Record


def _record(op: str, before: dict | None, after: dict | None, ts_ms: int = 5) -> Record:
    envelope = {"before": before, "after": after, "op": op, "source": {"table": "customers"}, "ts_ms": ts_ms}
    return Record(stream="customers", key="C1", value=json.dumps(envelope), arrival_ms=ts_ms)


ROW = {"customer_id": "C1", "name": "O'Brien; drop table x", "region": "APAC", "segment": "consumer", "updated_at": 7}


def test_each_op_becomes_its_statement_with_quoted_values():
    insert, update, delete = backoffice.changes(
        [
            _record("r", None, ROW),
            _record("u", ROW, dict(ROW, region="EU-WEST", updated_at=9)),
            _record("d", ROW, None, 11),
        ]
    )
    assert insert.sql.startswith("insert into backoffice.customers (customer_id, name, region, segment, updated_at)")
    assert "'O''Brien; drop table x'" in insert.sql and insert.at_ms == 7
    assert "region = 'EU-WEST'" in update.sql and update.sql.endswith("where customer_id = 'C1';") and update.at_ms == 9
    assert delete.sql == "delete from backoffice.customers where customer_id = 'C1';" and delete.at_ms == 11
    assert "9 * interval '1 millisecond'" in update.sql


def test_the_generated_history_replays_key_by_key():
    dataset = generator.generate(generator.GeneratorConfig(minutes=12, orders_per_second=1.0))
    items = backoffice.changes([*dataset.customers, *dataset.products])
    assert {c.op for c in items} == {"r", "c", "u", "d"}
    assert len(items) == len(dataset.customers) + len(dataset.products)
    with pytest.raises(ValueError, match="finite"):
        backoffice._literal(float("nan"))


def test_the_connector_renames_topics_to_the_jobs_and_keeps_the_password_out():
    settings = config.load("local", topic_prefix="t1-")
    cdc_settings = cdc.CdcSettings(postgres_port=5532, slot="s1")
    options = cdc.connector_config(settings, cdc_settings)
    assert options["database.password"] == "${env:POSTGRES_CDC_PASSWORD}"
    assert options["plugin.name"] == "pgoutput" and options["snapshot.mode"] == "initial"
    assert options["decimal.handling.mode"] == "double" and options["time.precision.mode"] == "connect"
    assert options["value.converter.schemas.enable"] == "true"
    regex = re.compile(options["transforms.route.regex"])
    topic = regex.fullmatch("backoffice.backoffice.customers").expand(
        options["transforms.route.replacement"].replace("$1", r"\1")
    )
    assert topic == "t1-customers"
    assert regex.fullmatch("__debezium-heartbeat.backoffice") is None
    plain = cdc.connector_config(config.load("local", cdc_envelope="plain"), cdc_settings)
    assert plain["value.converter.schemas.enable"] == "false"
