"""Table maintenance that is safe while the streaming jobs write: compaction, then vacuum.

Compaction (delta-rs optimize) rewrites small files into larger ones in a commit of its own; a
concurrent committer merge that conflicts re-reads the table and merges again (committer
invariant 5), and a compaction that conflicts is retried the same way. Vacuum deletes only files
that no table version within the retention still references: keep the retention longer than the
oldest savepoint you may restore (restoring re-runs windows whose rows are merged by key) and
than the time travel readers need. Default: 7 days.

The same retention applies to Flink's staging files: the committer keeps every file it merged
(a restore re-commits a checkpoint's pending files and fails if they are gone, see
lakehouse/ledger.py), and maintenance deletes the merged ones older than the retention. Files
not merged yet are never touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

from lakehouse import committer, tables
from lakehouse.config import Settings

DEFAULT_RETENTION_HOURS = 168
_RETRIES = 5


@dataclass(kw_only=True)
class MaintenanceResult:
    table: str
    files_removed: int
    files_added: int
    vacuumed: int
    version: int
    staging_removed: int


def maintain(
    settings: Settings,
    *,
    retention_hours: int = DEFAULT_RETENTION_HOURS,
    specs: tuple[tables.TableSpec, ...] = tables.ALL,
    dry_run: bool = False,
) -> list[MaintenanceResult]:
    """Compact every table, then vacuum files older than the retention."""
    results = []
    for spec in specs:
        uri = committer.table_uri(settings, spec)
        metrics = _compact(uri, settings) if not dry_run else {}
        table = DeltaTable(uri, storage_options=settings.storage_options())
        vacuumed = table.vacuum(
            retention_hours=retention_hours,
            dry_run=dry_run,
            enforce_retention_duration=retention_hours >= DEFAULT_RETENTION_HOURS,
        )
        results.append(
            MaintenanceResult(
                table=spec.name,
                files_removed=int(metrics.get("numFilesRemoved", 0)),
                files_added=int(metrics.get("numFilesAdded", 0)),
                vacuumed=len(vacuumed),
                version=table.version(),
                staging_removed=remove_merged_staging(settings, spec, retention_hours=retention_hours, dry_run=dry_run),
            )
        )
    return results


def remove_merged_staging(settings: Settings, spec: tables.TableSpec, *, retention_hours: float, dry_run: bool) -> int:
    """Delete the table's staging files merged more than ``retention_hours`` ago; return how many."""
    fs, directory, book = committer.staging_ledger(settings, spec)
    expired = book.older_than(time.time() - retention_hours * 3600)
    if dry_run or not expired:
        return len(expired)
    for path in expired:
        try:
            fs.delete_file(f"{directory}/{path}")
        except FileNotFoundError:
            pass
    book.forget(expired)
    return len(expired)


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
