"""The restore pre-flight: refuse a savepoint restore that Flink would turn into a restart loop.

It compiles the new code's plan (``compute``), compares its state fingerprint with the one kept
beside the savepoint (``check_restore``; lakehouse/pipeline/state_fingerprint.py says what a fingerprint
holds and where it lives), and words the refusal with the replay command (``refusal_message``).
``stop_with_savepoint`` stops a job and puts its fingerprint beside the savepoint.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.config import Settings
from lakehouse.pipeline.state_fingerprint import (  # noqa: F401 - the fingerprint's API, used through this module too
    FILE_NAME,
    Fingerprint,
    _read,
    _write,
    differences,
    for_savepoint,
    from_plan,
    job_record_uri,
    of_statements,
    record_for_job,
    savepoint_record_uri,
)


def compute(settings: Settings, *, connector_jars: bool = True) -> Fingerprint:
    """Build the orders pipeline for ``settings`` in a fresh table environment and fingerprint
    it (nothing is submitted). With ``connector_jars`` the Kafka connector comes from the Flink
    client's lib/ and the Delta connector's Parquet jars from the cache (a plain Python process
    has neither; the `flink run` client has both in lib/ already)."""
    from jobs import orders_pipeline
    from lakehouse.pipeline import packaging
    from lakehouse.pipeline.flink_env import add_jars, create_table_env

    t_env = create_table_env(settings)
    if connector_jars and settings.profile != "embedded":
        from lakehouse.pipeline import flink_cluster

        kafka = sorted((flink_cluster.flink_home() / "lib").glob("flink-sql-connector-*.jar"))
        add_jars(t_env, [*kafka, *packaging.connector_dependencies()])
    return of_statements(orders_pipeline.build(t_env, settings), job=settings.job_name)


def stop_with_savepoint(settings: Settings, job_id: str, *, target: str | None = None) -> tuple[str, bool]:
    """Stop a job with a savepoint and put the job's fingerprint beside it.

    Returns the savepoint path and whether a fingerprint was recorded (False for a job that was
    not submitted by this project's job script, which records none)."""
    from lakehouse.pipeline import flink_cluster

    record = _read(settings, job_record_uri(settings, job_id))
    savepoint = flink_cluster.stop_with_savepoint(settings, job_id, target=target)
    if record is None:
        return savepoint, False
    _write(settings, savepoint_record_uri(savepoint), record)
    return savepoint, True


@dataclass(frozen=True)
class RestoreCheck:
    ok: bool
    problems: list[str]
    saved: Fingerprint | None
    new: Fingerprint


def check_restore(settings: Settings, savepoint: str, *, new: Fingerprint | None = None) -> RestoreCheck:
    """Compare the savepoint's fingerprint with the one of the code about to be submitted."""
    new = new or compute(settings)
    saved = for_savepoint(settings, savepoint)
    if saved is None:
        problem = (
            f"{savepoint} has no {FILE_NAME}: it was not taken with `lakehouse jobs stop`, so its "
            "state layout is unknown"
        )
        return RestoreCheck(False, [problem], None, new)
    problems = differences(saved, new)
    return RestoreCheck(not problems, problems, saved, new)


def next_table_version(settings: Settings) -> str:
    """The table version a replay should write next: v2 after the root's tables, v3 after v2, ..."""
    current = settings.table_version
    if current.startswith("v") and current[1:].isdigit():
        return f"v{int(current[1:]) + 1}"
    return "v2"


def refusal_message(check: RestoreCheck, savepoint: str, settings: Settings) -> str:
    version = next_table_version(settings)
    lines = [
        f"refusing to restore {savepoint}: the new code cannot take over its state. Flink would fail "
        "the restore (StateMigrationException or unmapped state) and restart the job in a loop.",
        *(f"  - {problem}" for problem in check.problems[:20]),
        "Replay instead, into a new version of the tables, then switch readers (docs/RUNBOOK.md,",
        '"When a fix cannot restore"):',
        f"  python -m lakehouse replay --table-version {version}",
        f"  LAKEHOUSE_TABLE_VERSION={version} python -m lakehouse follow --follow   # {version}'s order read model",
        f"  python -m lakehouse switch {version}      # once the new tables have caught up",
        "If you know better, --skip-state-check submits anyway.",
    ]
    return "\n".join(lines)
