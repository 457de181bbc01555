"""State fingerprints from a compiled plan: stateless changes pass, state layout changes do not."""

import copy
import json

from lakehouse.pipeline import fingerprint


def _node(node_id: int, kind: str, **fields) -> dict:
    return {"id": node_id, "type": f"{kind}_1", "description": f"node {node_id}", **fields}


def _plan(agg_calls: list[dict], *, udf: str = "v1", topic: str = "order-events") -> dict:
    return {
        "flinkVersion": "2.2",
        "nodes": [
            _node(1, "stream-exec-table-source-scan", scanTableSource={"table": {"identifier": "src"}, "topic": topic}),
            _node(2, "stream-exec-python-calc", projection=[{"function": udf}]),
            _node(3, "stream-exec-calc", projection=[udf]),
            _node(4, "stream-exec-global-window-aggregate", grouping=[0, 1], aggCalls=agg_calls),
            _node(5, "stream-exec-sink", dynamicTableSink={"table": {"identifier": "stage"}}, options={"path": topic}),
        ],
        "edges": [],
    }


COUNT = {"internalName": "$COUNT$1", "argList": [3], "distinct": False, "type": "BIGINT NOT NULL"}


def _fp(plan: dict) -> fingerprint.Fingerprint:
    return fingerprint.from_plan(json.dumps(plan))


def test_only_stateful_nodes_count_and_a_udf_body_or_an_option_change_restores():
    saved = _fp(_plan([COUNT]))
    assert sorted(saved.operators) == [
        "1_stream-exec-table-source-scan",
        "4_stream-exec-global-window-aggregate",
        "5_stream-exec-sink",
    ]
    fixed = _fp(_plan([COUNT], udf="v2", topic="other-topic"))
    assert fingerprint.differences(saved, fixed) == []
    assert saved.digest == fixed.digest


def test_a_changed_aggregate_is_named():
    distinct = dict(COUNT, distinct=True)
    problems = fingerprint.differences(_fp(_plan([COUNT])), _fp(_plan([distinct])))
    assert problems == [
        "4_stream-exec-global-window-aggregate: its state layout changed (aggregates, keys or row types)"
    ]


def test_shifted_node_ids_are_unmapped_state():
    plan = _plan([COUNT])
    shifted = copy.deepcopy(plan)
    shifted["nodes"].insert(1, _node(2, "stream-exec-calc"))
    for i, node in enumerate(shifted["nodes"], start=1):
        node["id"] = i
    problems = fingerprint.differences(_fp(plan), _fp(shifted))
    assert any(
        "4_stream-exec-global-window-aggregate: has state in the savepoint but no longer exists" in p for p in problems
    )


def test_a_record_round_trips_and_a_missing_savepoint_record_refuses(tmp_path):
    from lakehouse import config

    settings = config.load("embedded", data_dir=tmp_path)
    saved = _fp(_plan([COUNT]))
    uri = fingerprint.record_for_job(settings, "abc", saved)
    assert fingerprint.Fingerprint.from_json(open(uri).read()).digest == saved.digest
    savepoint = str(tmp_path / "savepoint-1")
    check = fingerprint.check_restore(settings, savepoint, new=saved)
    assert not check.ok and "has no lakehouse-fingerprint.json" in check.problems[0]
    fingerprint._write(settings, fingerprint.savepoint_record_uri(savepoint), saved.to_json())
    assert fingerprint.check_restore(settings, savepoint, new=saved).ok
    message = fingerprint.refusal_message(check, savepoint, settings)
    assert "python -m lakehouse replay --table-version v2" in message


def test_node_ids_count_from_the_plans_first_node():
    # A second plan compiled in the same JVM is numbered on from the first one.
    plan = _plan([COUNT])
    later = copy.deepcopy(plan)
    for node in later["nodes"]:
        node["id"] += 68
    assert _fp(later).operators == _fp(plan).operators
