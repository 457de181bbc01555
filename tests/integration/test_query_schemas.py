"""Each output query's schema equals its table's spec, column by column, name and type.

The job inserts each query into its Delta sink; Flink matches an insert's columns by position, so
a query whose columns come out in another order (two STRING columns swapped, say) would write
every row into the wrong columns and pass planning. This plans the job's views in a Table
environment (no job runs) and compares every output with lakehouse/lake/tables.py.
"""

from __future__ import annotations

import re

import pytest

from lakehouse import config
from lakehouse.lake import tables

pytestmark = pytest.mark.integration


def _flink_type(java_type) -> str:
    """A Flink data type as the table specs spell it: nullability and time attributes aside, every
    character string as STRING (a CHAR(32) md5 goes into a STRING column unchanged)."""
    text = re.sub(r" NOT NULL| \*(ROWTIME|PROCTIME)\*", "", java_type.toString())
    return re.sub(r"^(VAR)?CHAR\(\d+\)$", "STRING", text)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    from jobs import orders_anomalies, orders_enrich, orders_metrics, orders_pipeline
    from lakehouse import rules
    from lakehouse.pipeline.flink_env import create_table_env

    settings = config.load("embedded", data_dir=tmp_path_factory.mktemp("schemas"))
    t_env = create_table_env(settings)
    orders_pipeline.register_sources(t_env, settings)
    orders_enrich.register_views(t_env, max_record_bytes=settings.max_record_bytes)
    orders_metrics.register_views(t_env)
    found = {**orders_enrich.transform(t_env), **orders_metrics.transform(t_env)}
    found[tables.ANOMALIES.name] = orders_anomalies.transform(t_env, rules.load(settings.rules_file))
    return {name: table.get_resolved_schema() for name, table in found.items()}


def test_the_job_has_one_query_per_table(outputs):
    assert sorted(outputs) == sorted(spec.name for spec in tables.ALL)


@pytest.mark.parametrize("spec", tables.ALL, ids=lambda spec: spec.name)
def test_each_query_has_its_tables_columns_in_order_with_their_types(outputs, spec):
    schema = outputs[spec.name]
    types = [_flink_type(t.getLogicalType()) for t in schema._j_resolved_schema.getColumnDataTypes()]
    got = list(zip(schema.get_column_names(), types, strict=True))
    assert got == list(spec.columns)
