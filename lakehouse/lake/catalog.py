"""Which version of the tables readers see: one pointer object per table root, switched atomically.

Writers never follow the pointer: a job writes where its settings say (the table root, or
``<root>/_v/<version>`` for a replay with ``LAKEHOUSE_TABLE_VERSION``). Readers (``lakehouse
summary``, ``history``, the batch report, Trino registration) resolve each table through the
pointer ``<root>/_current.json``. A replay after an incompatible fix writes a new version while
readers keep the old one; ``lakehouse switch <version>`` then replaces the pointer in one object
write, so every reader moves to the new version of every table at once (silver and gold of the
same version, never a mix). S3 replaces an object atomically: a reader gets the old pointer or
the new one. Without a pointer, readers use the root's own tables (the "base" version).

A read that spans tables (the run summary, the batch report, a training set, a quality check with
its neighbour tables) takes one ``snapshot`` first: the pointer is read once, and each table's
location and Delta version are fixed for the whole read, so a ``switch`` or a commit meanwhile
cannot mix silver of one version with gold of another.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from deltalake import DeltaTable

from lakehouse.config import Settings
from lakehouse.lake import storage, tables
from lakehouse.lake.tables import TableSpec

POINTER = "_current.json"
BASE = "base"  # the tables directly below the root, written by a job without a table version


def pointer_uri(settings: Settings) -> str:
    return f"{settings.logical_tables_uri()}/{POINTER}"


def read_pointer(settings: Settings) -> dict | None:
    fs, path = storage.filesystem(pointer_uri(settings), settings, read_only=True)
    try:
        with fs.open_input_stream(path) as stream:
            return json.loads(stream.read())
    except FileNotFoundError:
        return None
    except OSError as error:
        if "not found" in str(error).lower() or "NoSuchKey" in str(error):
            return None
        raise


def current_version(settings: Settings) -> str:
    pointer = read_pointer(settings)
    return pointer["version"] if pointer else BASE


def version_settings(settings: Settings, version: str) -> Settings:
    """Settings that write (and read) the tables of ``version``."""
    return replace(settings, table_version="" if version == BASE else version)


def resolve(settings: Settings, spec: TableSpec) -> str:
    """The location a reader should open for ``spec`` (one table; a read of several takes a ``snapshot``).

    Settings with an explicit table version read that version (an operator checking a replay
    before the switch); otherwise the pointer decides."""
    return _location(settings, spec, None if settings.table_version else read_pointer(settings))


def _location(settings: Settings, spec: TableSpec, pointer: dict | None) -> str:
    if not settings.table_version and pointer and spec.name in pointer.get("tables", {}):
        return pointer["tables"][spec.name]
    return storage.table_uri(settings, spec)


@dataclass(frozen=True)
class Snapshot:
    """Where each table of a read is and at which Delta version, fixed when the read starts."""

    locations: dict[str, str]
    versions: dict[str, int]  # tables that exist; a table created later stays absent
    storage_options: dict[str, str] = field(repr=False)  # holds keys: never printed

    def location(self, spec: TableSpec) -> str:
        return self.locations[spec.name]

    def version(self, spec: TableSpec) -> int | None:
        return self.versions.get(spec.name)

    def open(self, spec: TableSpec, *, version: int | None = None) -> DeltaTable:
        """The table at ``version``, by default at the snapshot's version (a table that did not exist
        then is opened as it is now, which raises delta-rs' own error when it still does not)."""
        pinned = self.versions.get(spec.name) if version is None else version
        return DeltaTable(self.location(spec), version=pinned, storage_options=self.storage_options)


def snapshot(settings: Settings, specs: tuple[TableSpec, ...] | list[TableSpec]) -> Snapshot:
    """Resolve the pointer once and pin each table of ``specs`` at its latest Delta version."""
    pointer = None if settings.table_version else read_pointer(settings)
    options = settings.reader_storage_options()
    locations = {spec.name: _location(settings, spec, pointer) for spec in specs}
    versions = {}
    for name, uri in locations.items():
        if DeltaTable.is_deltatable(uri, storage_options=options):
            versions[name] = DeltaTable(uri, storage_options=options).version()
    return Snapshot(locations=locations, versions=versions, storage_options=options)


def switch(
    settings: Settings,
    version: str,
    *,
    specs: tuple[TableSpec, ...] = tables.ALL,
    derived: tuple[TableSpec, ...] = tables.DERIVED,
) -> dict:
    """Point readers at ``version`` of every table with one object write; returns the pointer.

    Refuses when a table of that version does not exist (a replay not started, a typo). Derived
    tables (the order read model, quality verdicts) are created by their writers on first use, so
    they are switched when the version has them and left out of the pointer otherwise."""
    target = version_settings(settings, version)
    options = target.storage_options()
    locations = {spec.name: storage.table_uri(target, spec) for spec in specs}
    missing = [name for name, uri in locations.items() if not DeltaTable.is_deltatable(uri, storage_options=options)]
    for spec in derived:
        uri = storage.table_uri(target, spec)
        if DeltaTable.is_deltatable(uri, storage_options=options):
            locations[spec.name] = uri
    if missing:
        raise ValueError(
            f"version {version!r} has no Delta table for {', '.join(missing)} (below {target.tables_uri()})"
        )
    previous = read_pointer(settings)
    pointer = {
        "version": version,
        "tables": locations,
        "table_versions": {
            name: DeltaTable(uri, storage_options=target.storage_options()).version() for name, uri in locations.items()
        },
        "switched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "previous": previous["version"] if previous else BASE,
    }
    _write_atomically(settings, json.dumps(pointer, indent=2, sort_keys=True))
    return pointer


def _write_atomically(settings: Settings, text: str) -> None:
    uri = pointer_uri(settings)
    fs, path = storage.filesystem(uri, settings)
    if uri.startswith(("s3://", "s3a://")):
        with fs.open_output_stream(path) as out:  # an S3 object is replaced atomically
            out.write(text.encode())
        return
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)  # rename is atomic on one filesystem
