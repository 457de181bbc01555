"""The Delta committer: moves rows from Flink's exactly-once staging files into Delta tables.

Invariants (what makes every row land once):
1. Flink's file sink makes a part file visible (a name without a leading '.') only once the
   checkpoint covering its rows has completed; a restart or restore discards in-progress files.
   So every row Flink processed exactly once is in exactly one visible part file.
2. A commit MERGEs the rows of a batch of visible part files into its Delta table on the table's
   key: insert when the key is absent, never update. Window and anomaly rows are final when
   emitted (late events are routed to bronze.late_events instead of reopening windows), so
   insert-if-absent is the right semantics, and running the same input twice adds nothing.
3. A batch's staging files are recorded in the staging ledger (lakehouse/ledger.py) only after
   its Delta commit succeeded, and skipped from then on. A crash in between replays the batch on
   the next pass and the merge inserts nothing new. The committer never deletes a staging file:
   Flink re-commits a checkpoint's pending files when it restores that checkpoint or a savepoint,
   and fails if they are gone; ``lakehouse maintain`` removes them after the retention.
4. Every commit records its provenance: a Delta application transaction
   (app_id "<job>/<table>", version = commit sequence) and commitInfo metadata naming the job,
   the table, the staging files and the row counts. ``lakehouse history`` shows them.
5. A concurrent writer makes the commit fail, or a compaction and vacuum remove a file of the
   snapshot the merge was reading; the committer re-reads the table and merges the same batch
   again against the new snapshot: because the merge is keyed, that is "re-read and decide",
   not a blind retry.
6. After a silver.order_events commit, and before its staging files are recorded, the orders of
   the batch are recomputed from all their events into gold.orders_current (``read_model``: an
   idempotent MERGE by order_id), so the read model never misses a committed event, replays
   included.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from deltalake import CommitProperties, DeltaTable, Transaction

from lakehouse import ledger, read_model, storage, tables
from lakehouse.config import Settings
from lakehouse.tables import TableSpec

MAX_FILES_PER_COMMIT = 500
_CONFLICT_RETRIES = 5


@dataclass(kw_only=True)
class CommitResult:
    table: str
    files: int
    rows_read: int
    rows_inserted: int
    version: int | None


def ensure_tables(settings: Settings, specs: tuple[TableSpec, ...] = tables.ALL) -> None:
    """Create every Delta table up front: two writers creating the same new table conflict."""
    for spec in specs:
        storage.create_table_if_absent(settings, spec, table_uri(settings, spec))


def table_uri(settings: Settings, spec: TableSpec) -> str:
    return f"{settings.tables_uri()}/{spec.path}"


def commit_pending(settings: Settings, specs: tuple[TableSpec, ...] = tables.ALL) -> list[CommitResult]:
    """One pass over every table: commit whatever staging files are visible now."""
    return [result for spec in specs if (result := commit_table(settings, spec)) is not None]


def staging_ledger(settings: Settings, spec: TableSpec) -> tuple[object, str, ledger.Ledger]:
    """The staging filesystem, the table's staging directory and its ledger (refreshed)."""
    fs, root = storage.filesystem(settings.staging_uri(), settings)
    book = ledger.for_table(fs, root, spec.path, cache_key=settings.staging_uri())
    book.refresh()
    return fs, f"{root}/{spec.path}", book


def commit_table(settings: Settings, spec: TableSpec) -> CommitResult | None:
    fs, directory, book = staging_ledger(settings, spec)
    pending = ledger.pending_files(fs, directory, book)[:MAX_FILES_PER_COMMIT]
    if not pending:
        return None
    files = [path for path, _ in pending]
    batch = read_staging(fs, files, spec)
    inserted, version = _merge(settings, spec, batch, files) if batch.num_rows else (0, None)
    if spec.name == tables.ORDER_EVENTS.name and batch.num_rows:
        # The order read model follows the log (invariant 6). Even when the merge inserted nothing
        # (a replayed batch), a crash may have come between the two: recomputing is idempotent.
        read_model.update_orders_current(settings, order_ids=batch["order_id"].unique().to_pylist())
    # Only after the commit: a crash before this line replays the batch (invariant 3).
    book.record({path.removeprefix(directory + "/"): size for path, size in pending})
    return CommitResult(
        table=spec.name, files=len(files), rows_read=batch.num_rows, rows_inserted=inserted, version=version
    )


def read_staging(fs, files: list[str], spec: TableSpec) -> pa.Table:
    """Read Flink's JSON part files into one Arrow table with the spec's exact schema."""
    read_schema = pa.schema(
        [pa.field(f.name, pa.timestamp("ms") if pa.types.is_timestamp(f.type) else f.type) for f in spec.arrow_schema()]
    )
    parts = []
    for path in files:
        with fs.open_input_stream(path) as stream:
            data = stream.read()
        if not data.strip():
            continue
        parsed = pj.read_json(
            pa.BufferReader(data),
            parse_options=pj.ParseOptions(explicit_schema=read_schema, unexpected_field_behavior="error"),
        )
        parts.append(parsed.select(read_schema.names))
    if not parts:
        return spec.arrow_schema().empty_table()
    merged = pa.concat_tables(parts)
    return merged.cast(spec.arrow_schema())


def dedupe(batch: pa.Table, key: tuple[str, ...]) -> pa.Table:
    """Keep the first row per key (a replayed batch can hold the same row twice)."""
    if batch.num_rows == 0:
        return batch
    indexed = batch.append_column("__row", pa.array(range(batch.num_rows), pa.int64()))
    first = indexed.group_by(list(key), use_threads=False).aggregate([("__row", "min")])
    rows = first["__row_min"]
    return batch.take(pc.take(rows, pc.sort_indices(rows)))


def _merge(settings: Settings, spec: TableSpec, batch: pa.Table, files: list[str]) -> tuple[int, int]:
    batch = dedupe(batch, spec.key)
    predicate = " and ".join(f"t.`{k}` = s.`{k}`" for k in spec.key)
    for part in spec.partition_by:  # prune the target scan to the partitions this batch touches
        values = ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(set(batch[part].to_pylist())))
        predicate += f" and t.`{part}` in ({values})"
    app_id = f"{settings.job_name}/{spec.name}"
    for attempt in range(_CONFLICT_RETRIES):
        table = DeltaTable(table_uri(settings, spec), storage_options=settings.storage_options())
        sequence = (table.transaction_version(app_id) or 0) + 1
        metadata = {
            "lakehouse.job": settings.job_name,
            "lakehouse.table": spec.name,
            "lakehouse.sequence": str(sequence),
            "lakehouse.staging_files": json.dumps([f.rsplit("/", 1)[-1] for f in files][:50]),
            "lakehouse.staging_file_count": str(len(files)),
            "lakehouse.rows_read": str(batch.num_rows),
        }
        try:
            metrics = (
                table.merge(
                    batch,
                    predicate=predicate,
                    source_alias="s",
                    target_alias="t",
                    commit_properties=CommitProperties(
                        custom_metadata=metadata,
                        app_transactions=[
                            Transaction(app_id=app_id, version=sequence, last_updated=int(time.time() * 1000))
                        ],
                    ),
                )
                .when_not_matched_insert_all()
                .execute()
            )
        except storage.SNAPSHOT_ERRORS as error:
            if attempt == _CONFLICT_RETRIES - 1 or not storage.snapshot_moved(error):
                raise
            time.sleep(0.2 * (attempt + 1))
            continue
        table.update_incremental()
        return int(metrics.get("num_target_rows_inserted", 0)), table.version()
    raise AssertionError("unreachable")
