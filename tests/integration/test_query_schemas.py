"""Each output query's schema equals its table's spec, column by column, name and type.

The job inserts each query into its Delta sink by column name (TableSpec.select_columns), so a
query whose columns come out in another order still lands in the right columns; a renamed, missing
or retyped column would not. This plans the job's transforms in a Table environment (no job runs)
and compares every output with lakehouse/lake/tables.py.
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
    from jobs import orders_pipeline
    from lakehouse.pipeline.flink_env import create_table_env

    settings = config.load("embedded", data_dir=tmp_path_factory.mktemp("schemas"))
    t_env = create_table_env(settings)
    orders_pipeline.register_sources(t_env, settings)
    streams = orders_pipeline.transform(
        t_env, {name: t_env.from_path(name) for name in orders_pipeline.SOURCES}, settings
    )
    found = {name: table for name, table in streams.items() if name in tables.BY_NAME}
    return {name: table.get_resolved_schema() for name, table in found.items()}


def test_the_job_has_one_query_per_table(outputs):
    assert sorted(outputs) == sorted(spec.name for spec in tables.ALL)


@pytest.mark.parametrize("spec", tables.ALL, ids=lambda spec: spec.name)
def test_each_query_has_its_tables_columns_in_order_with_their_types(outputs, spec):
    schema = outputs[spec.name]
    types = [_flink_type(t.getLogicalType()) for t in schema._j_resolved_schema.getColumnDataTypes()]
    got = list(zip(schema.get_column_names(), types, strict=True))
    assert got == list(spec.columns)
