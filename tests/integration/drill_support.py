"""Helpers for the bug-fix drills on the local stack: a run with its own topics, tables and job
name, partial production, and waits on table contents (the jobs' Delta sinks commit them)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from lakehouse import config
from lakehouse.config import Settings
from lakehouse.lake import storage, tables
from lakehouse.pipeline import flink_cluster
from lakehouse.sources import generator, producer
from tests.compare import read_rows

REPO = Path(__file__).resolve().parents[2]
PRODUCE_RATE = 1_500  # events per second


@dataclass
class DrillRun:
    """One drill's isolated names on the shared stack."""

    settings: Settings
    failures: list[BaseException] = field(default_factory=list)

    @classmethod
    def create(cls, name: str, **overrides: object) -> DrillRun:
        """Names unique to this run; ``overrides`` are further settings (config.load's keywords)."""
        run = uuid.uuid4().hex[:8]
        settings = config.load(
            "local",
            topic_prefix=f"{name}{run}-",
            table_root=f"s3://lakehouse/{name}-{run}/tables",
            job_name=f"{name}-{run}",
            checkpoint_interval_ms=3000,
            **overrides,
        )
        return cls(settings=settings)

    def env(self, settings: Settings | None = None) -> dict[str, str]:
        """What a job or the CLI needs to build itself with these settings (config.job_environment)."""
        return config.job_environment(settings or self.settings)

    def with_(self, **changes) -> Settings:
        return replace(self.settings, **changes)

    def prepare_tables(self, settings: Settings) -> None:
        """Create the tables of ``settings`` (one job's): the job's Delta sinks append to existing tables."""
        storage.ensure_tables(settings)

    def check(self) -> None:
        assert not self.failures, self.failures

    def produce(self, dataset: generator.Dataset, *, events_per_second: float = PRODUCE_RATE) -> int:
        """Publish at PRODUCE_RATE (unless told otherwise), as the failure test does: a running job
        reads as events come, instead of catching up on a backlog (see docs/DESIGN.md, "Limits
        known today")."""
        producer.ensure_topics(self.settings.kafka_bootstrap, self.settings.topic_prefix)
        return producer.produce(
            dataset,
            bootstrap=self.settings.kafka_bootstrap,
            prefix=self.settings.topic_prefix,
            events_per_second=events_per_second,
            log=lambda _m: None,
            progress_seconds=3600,
        )

    def cli(
        self, *args: str, settings: Settings | None = None, code: Path = REPO, timeout: float = 1200
    ) -> subprocess.CompletedProcess:
        """Run ``python -m lakehouse <args>`` as an operator would, with this run's variables, from
        the checkout ``code`` (this one, or a copy with a drill's bug: tests/drill_bugs.py).

        `submit` ships the release archive (lakehouse/pipeline/release.py): the first one builds it, and each
        uploads its Python environment (about 220 MB) to the cluster, hence the long timeout."""
        env = config.job_environment(settings or self.settings, inherit=flink_cluster.clean_environment())
        env["PYTHONPATH"] = str(code)
        return subprocess.run(
            [sys.executable, "-m", "lakehouse", *args],
            env=env,
            cwd=code,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def cancel_running(self) -> None:
        """Cancel every job of this drill still running (cleanup; names are unique per run)."""
        for job in flink_cluster.list_jobs(self.settings):
            if job["state"] in ("RUNNING", "RESTARTING", "CREATED") and job["name"].startswith(self.settings.job_name):
                flink_cluster.cancel(self.settings, job["id"])


def split_by_arrival(dataset: generator.Dataset, at_ms: int) -> tuple[generator.Dataset, generator.Dataset]:
    """The records that arrive before ``at_ms`` and the rest, per stream."""

    def part(before: bool) -> generator.Dataset:
        pick = {
            stream: [r for r in records if (r.arrival_ms < at_ms) == before]
            for stream, records in dataset.streams().items()
        }
        return generator.Dataset(
            config=dataset.config, orders=pick["order-events"], customers=pick["customers"], products=pick["products"]
        )

    return part(True), part(False)


def quiet_seam(dataset: generator.Dataset, *, after_ms: int, quiet_ms: int = 120_000) -> int:
    """The first arrival time from ``after_ms`` on with no late event arriving for ``quiet_ms``.

    A restored job's watermark starts from nothing (watermarks are not in savepoints), so a late
    event among the first records after a restore would pass as on time; the reference model
    cannot know that, so the drill puts its seam where no late event follows closely."""
    late = sorted(r.arrival_ms for r in dataset.orders if r.expect.get("late"))
    at = after_ms
    while any(at <= t < at + quiet_ms for t in late):
        at = next(t for t in late if t >= at) + 1
    return at


def event_ids(dataset: generator.Dataset) -> set[str]:
    """Ids of the valid events of a dataset (a corrupted copy of an event shares its id, so
    quarantined records do not count: the valid original may arrive on the other side of a seam)."""
    return {record.expect["event"]["event_id"] for record in dataset.orders if "event" in record.expect}


def key_set(settings: Settings, spec: tables.TableSpec) -> list[tuple]:
    rows = read_rows(storage.table_uri(settings, spec), spec, storage_options=settings.storage_options())
    return [tuple(row[k] for k in spec.key) for row in rows]


def wait_until(predicate, *, timeout: float, what: str, run: DrillRun, poll: float = 4.0, fail: bool = True) -> bool:
    """Poll ``predicate`` until it holds; on timeout raise, or with ``fail=False`` report and
    return False (the caller's comparison then says what is missing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.check()
        if predicate():
            return True
        time.sleep(poll)
    if fail:
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
    print(f"timed out after {timeout:.0f}s waiting for {what}", flush=True)
    return False


def counts(settings: Settings) -> dict[str, int]:
    return {spec.name: len(key_set(settings, spec)) for spec in tables.ALL}


def counts_reached(settings: Settings, expected: dict[str, int]) -> bool:
    return counts(settings) == expected


def wait_for_silver(run: DrillRun, settings: Settings, event_keys: set[tuple], *, timeout: float) -> None:
    """Wait until silver.order_events of ``settings`` holds every key of ``event_keys`` (the events
    before a seam: a savepoint taken then covers them)."""
    wait_until(
        lambda: event_keys <= set(key_set(settings, tables.ORDER_EVENTS)),
        timeout=timeout,
        what="the events before the seam in silver",
        run=run,
    )


def wait_for_tables(
    run: DrillRun,
    settings: Settings,
    expected: dict[str, int],
    *,
    timeout: float,
    what: str = "every table",
    fail: bool = True,
) -> bool:
    """Wait until every table of ``settings`` has the ``expected`` row count (see ``wait_until``)."""
    return wait_until(lambda: counts_reached(settings, expected), timeout=timeout, what=what, run=run, fail=fail)


def submitted_job_id(output: str) -> str:
    """The job id `lakehouse submit` / `replay` print ("... job <32 hex> ...")."""
    match = re.search(r"job ([0-9a-f]{32})", output)
    assert match, f"no job id in:\n{output[-3000:]}"
    return match.group(1)
