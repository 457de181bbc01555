"""Where the Delta tables are and how to reach them, on local disk or S3, with explicit options."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError, DeltaError

from lakehouse.config import Settings
from lakehouse.lake import tables
from lakehouse.lake.tables import TableSpec


def table_uri(settings: Settings, spec: TableSpec) -> str:
    """Where this job's version of the table lives (readers resolve through lakehouse/lake/catalog.py)."""
    return f"{settings.tables_uri()}/{spec.path}"


def ensure_tables(settings: Settings, specs: tuple[TableSpec, ...] = tables.ALL) -> None:
    """Create every Delta table up front: the job's sink only appends to existing tables, and two
    writers creating the same new table at once conflict."""
    for spec in specs:
        create_table_if_absent(settings, spec, table_uri(settings, spec))


def filesystem(uri: str, settings: Settings, *, read_only: bool = False) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem for ``uri`` and the path inside it; ``read_only``: with the reader identity."""
    parsed = urlparse(uri)
    if parsed.scheme in ("s3", "s3a"):
        endpoint = urlparse(settings.s3_endpoint) if settings.s3_endpoint else None
        identity = settings.reader if read_only else settings.writer
        fs = pafs.S3FileSystem(
            access_key=identity.access_key or None,
            secret_key=identity.secret_key or None,
            region=settings.s3_region,
            endpoint_override=endpoint.netloc if endpoint else None,
            scheme=endpoint.scheme if endpoint else "https",
            force_virtual_addressing=False,
        )
        return fs, f"{parsed.netloc}{parsed.path}".rstrip("/")
    return pafs.LocalFileSystem(), uri.rstrip("/")


def create_table_if_absent(settings: Settings, spec: TableSpec, uri: str) -> None:
    """Create the spec's Delta table at ``uri`` unless one is there (``mode="ignore"`` covers a race)."""
    if DeltaTable.is_deltatable(uri, storage_options=settings.storage_options()):
        return
    DeltaTable.create(
        uri,
        schema=spec.arrow_schema(),
        partition_by=list(spec.partition_by) or None,
        name=spec.name,
        description=spec.description,
        mode="ignore",
        storage_options=settings.storage_options(),
    )


# What a Delta read or merge raises when the table moved under it: a conflicting commit, or a
# compaction plus vacuum that removed a file of the snapshot it read (deltalake raises Python's
# FileNotFoundError for an object that is gone, DeltaError for some other paths).
SNAPSHOT_ERRORS = (CommitFailedError, DeltaError, FileNotFoundError)


def snapshot_moved(error: Exception) -> bool:
    """True when ``error`` means: re-read the table and decide again."""
    if isinstance(error, (CommitFailedError, FileNotFoundError)):
        return True
    message = str(error)
    return "not found" in message or "No such file" in message or "NoSuchKey" in message


def committing_jobs(settings: Settings, spec: TableSpec, *, limit: int = 100) -> set[str]:
    """Flink job ids whose Delta sink, for this job name, committed among the table's last ``limit``
    versions (the app ids of the sink's ``lakehouse.transactions``: ``<job>/<table>/<job id>/<subtask>``).
    """
    uri = table_uri(settings, spec)
    if not DeltaTable.is_deltatable(uri, storage_options=settings.storage_options()):
        return set()
    prefix = f"{settings.job_name}/{spec.name}/"
    jobs = set()
    for entry in DeltaTable(uri, storage_options=settings.storage_options()).history(limit):
        for app_id in json.loads(entry.get("lakehouse.transactions") or "{}"):
            if app_id.startswith(prefix):
                jobs.add(app_id[len(prefix) :].split("/")[0])
    return jobs
