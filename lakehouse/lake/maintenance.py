"""Table maintenance that is safe while the streaming jobs write: compaction, vacuum, log checkpoint.

Compaction (delta-rs optimize) rewrites small files into larger ones in a commit of its own. The
job's Delta sink only appends (blind appends), so a compaction never invalidates what the sink
commits and the sink never invalidates a compaction; when both race for the same log version,
the loser re-reads the log and commits at the next one (both create log versions only if
absent). A compaction that conflicts with another compaction is retried the same way.

Vacuum deletes files no table version within the retention still references, and also files no
version references at all, such as a data file the job uploaded for a checkpoint that has not
completed yet. So the retention must be longer than the longest time from a file's upload to its
commit (a checkpoint interval, or the time a failed job takes to restore and commit again), than
the oldest savepoint you may restore, and than the time travel readers need. Default: 7 days;
shorter retentions are refused unless ``allow_short_retention`` (tests, an idle table).

Each pass ends with a log checkpoint (delta-rs ``create_checkpoint``): readers then replay a
Parquet checkpoint plus the few commits after it, instead of every JSON commit since the start.
The job's sink reads such checkpoints too (connectors/delta, CheckpointReader).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

from lakehouse.config import Settings
from lakehouse.lake import storage, tables

DEFAULT_RETENTION_HOURS = 168
_RETRIES = 5


@dataclass(kw_only=True)
class MaintenanceResult:
    table: str
    files_removed: int
    files_added: int
    vacuumed: int
    version: int
    checkpoint_version: int


MIN_RETENTION_HOURS = 1


def maintain(
    settings: Settings,
    *,
    retention_hours: int = DEFAULT_RETENTION_HOURS,
    specs: tuple[tables.TableSpec, ...] = (*tables.ALL, *tables.DERIVED),
    dry_run: bool = False,
    allow_short_retention: bool = False,
) -> list[MaintenanceResult]:
    """Compact every table, vacuum files older than the retention, then write a log checkpoint.

    Tables not created yet (a derived table nobody wrote) are skipped."""
    if retention_hours < MIN_RETENTION_HOURS and not allow_short_retention:
        raise ValueError(
            f"a vacuum retention of {retention_hours} h could delete data files a running job has uploaded "
            f"but not committed yet; use at least {MIN_RETENTION_HOURS} h (see lakehouse/lake/maintenance.py)"
        )
    results = []
    for spec in specs:
        uri = storage.table_uri(settings, spec)
        if not DeltaTable.is_deltatable(uri, storage_options=settings.storage_options()):
            continue
        metrics = _compact(uri, settings) if not dry_run else {}
        table = DeltaTable(uri, storage_options=settings.storage_options())
        vacuumed = table.vacuum(
            retention_hours=retention_hours,
            dry_run=dry_run,
            enforce_retention_duration=retention_hours >= DEFAULT_RETENTION_HOURS,
        )
        table = DeltaTable(uri, storage_options=settings.storage_options())
        if not dry_run:
            table.create_checkpoint()
        results.append(
            MaintenanceResult(
                table=spec.name,
                files_removed=int(metrics.get("numFilesRemoved", 0)),
                files_added=int(metrics.get("numFilesAdded", 0)),
                vacuumed=len(vacuumed),
                version=table.version(),
                checkpoint_version=table.version(),
            )
        )
    return results


def _compact(uri: str, settings: Settings) -> dict:
    for attempt in range(_RETRIES):
        table = DeltaTable(uri, storage_options=settings.storage_options())
        try:
            return table.optimize.compact()
        except CommitFailedError:
            if attempt == _RETRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    return {}
