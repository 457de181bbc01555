"""The Java functions in udfs/java, run by Flink, against plain Python references.

json_object_fields: the pipeline's contract checks read every order-event field through it, so
it must say exactly what JSON_VALUE said before it (Python's json module is the reference): the
same text for every scalar, NULL for JSON null, objects, arrays and missing keys, and "not a JSON
object" for anything else. epoch_millis_or_zero and json_long_field: the source's rowtime rule and
the ts_ms it reads from the message's bytes.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from lakehouse import config

pytestmark = pytest.mark.integration

NAMES = ("a", "b", "c", "ts_ms")

PAYLOADS = [
    '{"a":"x","b":2,"c":true,"ts_ms":1767225600413}',
    '{"a": "spaces and \\"escapes\\" \\u00e9\\n", "b": -3.50, "c": false}',
    '{"a":1e3,"b":12345678901234567890,"c":0.1}',
    '{"a":null,"b":{"nested":1},"c":[1,2],"ts_ms":"yesterday"}',
    '{"a":"first","a":"second"}',
    '{"other":1}',
    "{}",
    '  {"a":"padded"}  ',
    '{"a":"truncated","b":',
    '[{"a":"in an array"}]',
    '"just a string"',
    "null",
    "42",
    "",
    "not json at all",
    '{"a":1} trailing',
    '{"a":1}{"b":2}',
    '{"a":"x",}',
    None,
]


def reference(text: str | None) -> tuple:
    """(is_object, a, b, c, ts_ms) as JSON_VALUE semantics give them, from Python's json module."""
    try:
        # Numbers keep the text they were written with, as JSON_VALUE returns them.
        value = json.loads(text, parse_int=str, parse_float=str) if text is not None else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        return (False,) + (None,) * (len(NAMES) + 2)

    def scalar(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        return v if isinstance(v, str) else None

    # Untyped fields: no wrong type; none of these strings holds an unpaired surrogate.
    return (True,) + tuple(scalar(value.get(name)) for name in NAMES) + (None, None)


@pytest.fixture(scope="module")
def t_env(tmp_path_factory):
    from pyflink.table import DataTypes

    from lakehouse.pipeline.flink_env import create_table_env

    settings = config.load("embedded", data_dir=tmp_path_factory.mktemp("json-fields"))
    env = create_table_env(settings)  # registers the project's Java functions
    rows = env.from_elements(
        list(enumerate(PAYLOADS)),
        DataTypes.ROW([DataTypes.FIELD("id", DataTypes.INT()), DataTypes.FIELD("payload", DataTypes.STRING())]),
    )
    env.create_temporary_view("payloads", rows)
    return env


def test_every_payload_gives_what_json_value_semantics_give(t_env):
    result = t_env.execute_sql(
        f"""select p.id, f.* from payloads as p
        cross join lateral table(json_object_fields(p.payload, '{",".join(NAMES)}')) as f"""
    )
    with result.collect() as rows:
        got = {row[0]: tuple(row[1:]) for row in rows}
    assert sorted(got) == list(range(len(PAYLOADS))), "exactly one row per input row"
    wrong = [(PAYLOADS[i], got[i], reference(PAYLOADS[i])) for i in got if got[i] != reference(PAYLOADS[i])]
    assert not wrong, "\n".join(f"{p!r}: got {g}, expected {e}" for p, g, e in wrong)
    # The reference itself must see both kinds, or the comparison proves little.
    assert sum(reference(p)[0] for p in PAYLOADS) == 8


TYPED = "a:string,b:integer,c:number,ts_ms:integer"
TYPED_CASES = [
    # payload, (a, b, c, ts_ms, wrong_type, bad_text)
    ('{"a":"x","b":2,"c":2.5,"ts_ms":1}', ("x", "2", "2.5", "1", None, None)),
    ('{"a":1,"b":2}', (None, "2", None, None, "a", None)),
    ('{"a":"x","b":2.0,"c":"NaN"}', ("x", None, None, None, "b", None)),
    ('{"a":{"o":1},"c":[1]}', (None, None, None, None, "a", None)),
    ('{"c":1e400,"b":-5}', (None, "-5", "1e400", None, None, None)),
    ('{"ts_ms":"1767225600000"}', (None, None, None, None, "ts_ms", None)),
    ('{"b":true,"a":null}', (None, None, None, None, "b", None)),
    ('{"a":"lone \\ud800 surrogate","b":1}', (None, "1", None, None, None, "a")),
    ('{"a":"pair \\ud83d\\ude00 ok"}', ("pair \U0001f600 ok", None, None, None, None, None)),
    ('{"a":1,"a":"last wins"}', ("last wins", None, None, None, None, None)),
    ('{"c":NaN}', None),
]


def test_declared_types_turn_a_value_of_another_json_type_into_wrong_type(t_env):
    from pyflink.table import DataTypes

    rows = t_env.from_elements(
        [(i, p) for i, (p, _) in enumerate(TYPED_CASES)],
        DataTypes.ROW([DataTypes.FIELD("id", DataTypes.INT()), DataTypes.FIELD("payload", DataTypes.STRING())]),
    )
    t_env.create_temporary_view("typed_payloads", rows)
    result = t_env.execute_sql(
        f"""select p.id, f.* from typed_payloads as p
        cross join lateral table(json_object_fields(p.payload, '{TYPED}')) as f"""
    )
    with result.collect() as collected:
        got = {row[0]: (row[1], tuple(row[2:])) for row in collected}
    for i, (payload, expected) in enumerate(TYPED_CASES):
        if expected is None:  # NaN is not JSON
            assert got[i] == (False, (None,) * 6), payload
        else:
            assert got[i] == (True, expected), payload


def _bytes_view(t_env, name: str, values: list[bytes | None]) -> None:
    """A temporary view ``name(id INT, v BYTES)``: each value with its position in ``values``."""
    from pyflink.table import DataTypes

    rows = t_env.from_elements(
        [(i, None if v is None else bytearray(v)) for i, v in enumerate(values)],
        DataTypes.ROW([DataTypes.FIELD("id", DataTypes.INT()), DataTypes.FIELD("v", DataTypes.BYTES())]),
    )
    t_env.create_temporary_view(name, rows)


def test_raw_record_keeps_bytes_that_are_not_utf8_as_base64(t_env):
    from lakehouse import contract

    values = [b'{"a":1}', "é".encode(), b"\xff\xfe{}", b"", None]
    _bytes_view(t_env, "raw_values", values)
    result = t_env.execute_sql("select b.id, r.* from raw_values as b, lateral table(raw_record(b.v)) as r")
    with result.collect() as collected:
        got = {row[0]: tuple(row[1:]) for row in collected}
    for i, value in enumerate(values):
        payload = contract.stored_payload(value)
        assert got[i] == (payload, value is None or payload == value.decode("utf-8", "replace"), len(value or b""))
        assert contract.original_bytes(payload) == value


def test_the_field_list_must_be_a_literal_of_distinct_names(t_env):
    # The planner reports these while validating the query (a Py4J error carrying Flink's message).
    cases = {
        "'a,a'": "must be distinct",
        "'a,,b'": "non-empty",
        "'is_object'": "not is_object",
        "'wrong_type'": "not is_object",
        "'a:date'": "unknown type",
        "payload": "literal",
    }
    for names, message in cases.items():
        with pytest.raises(Exception, match=f"json_object_fields: .*{message}"):
            t_env.sql_query(f"select f.* from payloads, lateral table(json_object_fields(payload, {names})) as f")


def test_epoch_millis_or_zero_keeps_only_plausible_times(t_env):
    latest = datetime(2026, 1, 1, tzinfo=UTC)
    latest_ms = int(latest.timestamp() * 1000)
    cases = [latest_ms - 1, latest_ms, latest_ms + 1, 0, -1, None, 10 * latest_ms]
    result = t_env.execute_sql(
        "select id, epoch_millis_or_zero(ms, to_timestamp_ltz("
        + str(latest_ms)
        + ", 3)) from (values "
        + ", ".join(f"({i}, cast({'null' if ms is None else ms} as bigint))" for i, ms in enumerate(cases))
        + ") as t(id, ms)"
    )
    with result.collect() as rows:
        got = {row[0]: row[1] for row in rows}
    expected = {i: ms if ms is not None and 0 <= ms <= latest_ms else 0 for i, ms in enumerate(cases)}
    assert got == expected


LONG_CASES = [
    *(p.encode() for p in PAYLOADS if p is not None),
    b'{"ts_ms":1767225600413}',
    b'{"ts_ms":-5}',
    b'{"ts_ms":"1767225600413"}',
    b'{"ts_ms":" 17"}',
    b'{"ts_ms":"+17"}',
    b'{"ts_ms":"1.5"}',
    b'{"ts_ms":1767225600413.5}',
    b'{"ts_ms":1.7e12}',
    b'{"ts_ms":9223372036854775807}',
    b'{"ts_ms":9223372036854775808}',
    b'{"ts_ms":"-9223372036854775809"}',
    b'{"ts_ms":true}',
    b'{"ts_ms":null}',
    b'{"ts_ms":{"ts_ms":3}}',
    b'{"nested":{"ts_ms":3}}',
    b'{"ts_ms":1,"ts_ms":2}',
    b'{"ts_ms":1,"ts_ms":"x"}',
    b'{"ts_ms":7} trailing',
    b'{"ts_ms":7}{"ts_ms":8}',
    b'{"ts_ms":7,"other":',
    b'{"ts_ms":NaN}',
    b'[{"ts_ms":7}]',
    b'\n\t {"ts_ms":7}',
    '{"note":"é€","ts_ms":8}'.encode(),
    b"",
    None,
]


def long_reference(value: bytes | None, name: str = "ts_ms") -> int | None:
    """json_long_field's rule, from Python's json module: the first JSON value of the text (what
    follows is not read), when it is an object, its last ``name`` as an integer within BIGINT, or a
    string of one (an optional minus and digits)."""
    if value is None:
        return None
    try:
        text = value.decode("utf-8").lstrip(" \t\r\n")

        def no_constants(word):
            raise ValueError(word)

        decoder = json.JSONDecoder(
            parse_int=lambda s: ("int", s), parse_float=lambda s: ("float", s), parse_constant=no_constants
        )
        document, _ = decoder.raw_decode(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    found = document.get(name)
    if isinstance(found, tuple) and found[0] == "int":
        digits = found[1]
    elif isinstance(found, str) and re.fullmatch(r"-?[0-9]+", found):
        digits = found
    else:
        return None
    number = int(digits)
    return number if -(2**63) <= number < 2**63 else None


def test_json_long_field_reads_ts_ms_from_the_bytes_as_its_reference_does(t_env):
    _bytes_view(t_env, "long_values", LONG_CASES)
    result = t_env.execute_sql("select id, json_long_field(v, 'ts_ms') from long_values")
    with result.collect() as collected:
        got = {row[0]: row[1] for row in collected}
    expected = {i: long_reference(v) for i, v in enumerate(LONG_CASES)}
    wrong = [(LONG_CASES[i], got.get(i), expected[i]) for i in expected if got.get(i) != expected[i]]
    assert not wrong, "\n".join(f"{v!r}: got {g}, expected {e}" for v, g, e in wrong)
    # The reference must see values, strings and failures, or the comparison proves little.
    assert sum(e is not None for e in expected.values()) >= 8
    assert sum(e is None for e in expected.values()) >= 20


def test_add_jars_keeps_the_jars_flink_run_has_set(t_env):
    from pyflink.common import Configuration

    from lakehouse.pipeline import packaging
    from lakehouse.pipeline.flink_env import add_jars

    config = t_env.get_config()
    before = config.get("pipeline.jars", "")
    try:
        # What `flink run -py` leaves there: a YAML list with its Python jar.
        config.set("pipeline.jars", f"['{packaging.udf_jar().as_uri()}']")
        add_jars(t_env, [packaging.udf_jar(), packaging.code_zip()])
        jars = Configuration.parse_list_value(config.get("pipeline.jars", ""))
        assert jars == [packaging.udf_jar().as_uri(), packaging.code_zip().resolve().as_uri()]
    finally:
        config.set("pipeline.jars", before)
