"""State fingerprints: what a job's savepoint state is made of, and where each fingerprint is kept.

A savepoint maps state to operators by uid. This project derives uids from the plan
(``table.exec.uid.generation: PLAN_ONLY``: ``<exec node id>_<node type>``), so the compiled plan
(``StatementSet.compile_plan()``) says both which stateful operators a job has and what their
state is made of: a window aggregate's grouping, aggregate calls and types, a join's keys and
row types. A fix that changes any of those (an aggregate added or changed, a GROUP BY, a new
operator that shifts the node ids) makes Flink fail the restore with StateMigrationException or
an unmapped-state error, and a job configured to restart keeps restarting while showing RUNNING.

The fingerprint is one digest per stateful plan node of that state-relevant content. Stateless
nodes (calcs, Python calcs, exchanges, unions) are left out, so the body of a Python UDF, a
filter or a projection can change and the savepoint still restores. Sources and sinks count by
table only: their state (Kafka offsets, pending part files) does not depend on their options.

Life cycle: the job records its fingerprint when it is submitted (``record_for_job``, by job id);
``stop_with_savepoint`` copies it beside the savepoint (``<savepoint>/lakehouse-fingerprint.json``);
``lakehouse submit --from-savepoint`` compiles the new code's plan, compares
(``lakehouse/pipeline/fingerprint.py``, ``check_restore``) and refuses with the replay command when they
differ. This module knows nothing of the jobs, so the job script can record its own fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from lakehouse.config import Settings
from lakehouse.lake import storage

FILE_NAME = "lakehouse-fingerprint.json"
FORMAT = 1
# Plan nodes that keep no state of their own.
STATELESS = frozenset(
    {
        "stream-exec-calc",
        "stream-exec-python-calc",
        "stream-exec-exchange",
        "stream-exec-union",
        "stream-exec-drop-update-before",
        "stream-exec-watermark-assigner",
        "stream-exec-correlate",
        "stream-exec-python-correlate",
        "stream-exec-expand",
        "stream-exec-values",
    }
)
_ENDPOINTS = ("stream-exec-table-source-scan", "stream-exec-sink")
# Text that describes a node but is not part of its state.
_NOT_STATE = ("id", "description")


@dataclass(frozen=True)
class Fingerprint:
    operators: dict[str, str]  # "<node id>_<node type>" -> digest of its state-relevant content
    created_at: str = ""
    job: str = ""

    @property
    def digest(self) -> str:
        text = json.dumps(self.operators, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "digest": self.digest,
                "job": self.job,
                "created_at": self.created_at,
                "operators": self.operators,
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Fingerprint:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown fingerprint format {data.get('format')!r}")
        return cls(operators=data["operators"], created_at=data.get("created_at", ""), job=data.get("job", ""))


def from_plan(plan_json: str, *, job: str = "") -> Fingerprint:
    """The fingerprint of a compiled plan (``CompiledPlan.as_json_string()``)."""
    nodes = json.loads(plan_json)["nodes"]
    # Exec node ids come from a counter that lives as long as the JVM: a second plan in the same
    # process is numbered on from the first. The job's uids are those of a first plan, so ids
    # count from the plan's first node.
    offset = min((node["id"] for node in nodes), default=1) - 1
    operators = {}
    for node in nodes:
        kind = node["type"].rsplit("_", 1)[0]  # "stream-exec-sink_1" -> "stream-exec-sink"
        if kind in STATELESS:
            continue
        if kind in _ENDPOINTS:
            table = (node.get("scanTableSource") or node.get("dynamicTableSink") or {}).get("table", {})
            content = {"type": node["type"], "table": table.get("identifier")}
        else:
            content = {k: v for k, v in node.items() if k not in _NOT_STATE}
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
        operators[f"{node['id'] - offset}_{kind}"] = digest
    return Fingerprint(operators=operators, created_at=datetime.now(UTC).isoformat(timespec="seconds"), job=job)


def of_statements(statements, *, job: str = "") -> Fingerprint:
    """The fingerprint of a PyFlink StatementSet, before it is executed."""
    return from_plan(statements.compile_plan().as_json_string(), job=job)


def differences(saved: Fingerprint, new: Fingerprint) -> list[str]:
    """What stops ``new`` code from restoring state saved under ``saved``; empty when it can."""
    problems = []
    for uid in sorted(saved.operators.keys() - new.operators.keys(), key=_node_order):
        problems.append(f"{uid}: has state in the savepoint but no longer exists in the new plan")
    for uid in sorted(saved.operators.keys() & new.operators.keys(), key=_node_order):
        if saved.operators[uid] != new.operators[uid]:
            problems.append(f"{uid}: its state layout changed (aggregates, keys or row types)")
    # New stateful operators alone would start empty; but new nodes shift the ids of later ones,
    # which the two checks above already report. Report them for a complete picture.
    for uid in sorted(new.operators.keys() - saved.operators.keys(), key=_node_order):
        problems.append(f"{uid}: new stateful operator, not in the savepoint")
    return problems


def _node_order(uid: str) -> tuple[int, str]:
    head, _, rest = uid.partition("_")
    return (int(head), rest) if head.isdigit() else (0, uid)


# --- where fingerprints live ------------------------------------------------------------------
def _write(settings: Settings, uri: str, text: str) -> None:
    fs, path = storage.filesystem(uri, settings)
    parent = path.rsplit("/", 1)[0]
    if not uri.startswith(("s3://", "s3a://")):
        fs.create_dir(parent, recursive=True)
    with fs.open_output_stream(path) as out:  # one object, replaced atomically
        out.write(text.encode())


def _read(settings: Settings, uri: str) -> str | None:
    fs, path = storage.filesystem(uri, settings)
    try:
        with fs.open_input_stream(path) as stream:
            return stream.read().decode()
    except (FileNotFoundError, OSError) as error:
        if isinstance(error, FileNotFoundError) or "not found" in str(error).lower() or "NoSuchKey" in str(error):
            return None
        raise


def job_record_uri(settings: Settings, job_id: str) -> str:
    return f"{settings.fingerprints_uri()}/jobs/{job_id}.json"


def savepoint_record_uri(savepoint: str) -> str:
    return f"{savepoint.rstrip('/')}/{FILE_NAME}"


def record_for_job(settings: Settings, job_id: str, fingerprint: Fingerprint) -> str:
    uri = job_record_uri(settings, job_id)
    _write(settings, uri, fingerprint.to_json())
    return uri


def for_savepoint(settings: Settings, savepoint: str) -> Fingerprint | None:
    text = _read(settings, savepoint_record_uri(savepoint))
    return Fingerprint.from_json(text) if text else None
