"""The staging ledger: which of Flink's staging files the committer has merged, and when.

Why staging files are never deleted right after their Delta commit: when a job restores from a
checkpoint or a savepoint, Flink's file sink commits that checkpoint's pending files again. On
S3 it completes the multipart upload once more and, when the upload is gone because it was
completed before, checks that the object is there; if the object was deleted the task fails on
every restart and the job restart-loops. So a staging file must outlive every checkpoint and
savepoint that may still be restored. The committer records each file it merged here and skips
it from then on; ``lakehouse maintain`` deletes staging files older than the retention, together
with their records.

Layout, beside the staging tables (``<staging>/_ledger/<table path>/``):
- ``entry-<time_ns>.json``: one per commit, ``{"files": {relative path: size}, "at": epoch s}``;
- ``snapshot.json``: entries folded together, ``{"files": {relative path: [size, at]}}``.

A file counts as merged when the ledger holds its path with the same size. Losing a record (two
processes folding at once) costs a re-read of that file, never a duplicate row: the Delta merge is
keyed and inserts only absent keys (committer invariant 2).
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import pyarrow.fs as pafs

from lakehouse import storage

FOLD_AFTER_ENTRIES = 200
SNAPSHOT = "snapshot.json"


class Ledger:
    """The ledger of one staging table, cached in memory: each entry is read once per process."""

    def __init__(self, fs: pafs.FileSystem, staging_root: str, table_path: str) -> None:
        self.fs = fs
        self.directory = f"{staging_root}/_ledger/{table_path}"
        self.files: dict[str, tuple[int, float]] = {}
        self._read: set[str] = set()
        self._snapshot_seen: tuple | None = None
        self._lock = threading.RLock()  # a committer thread and maintenance may share it

    def refresh(self) -> None:
        """Read the snapshot and the entries not read yet; fold them when there are many."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        infos = self._infos()
        names = list(infos)
        snapshot = infos.get(SNAPSHOT)
        if snapshot is not None and snapshot != self._snapshot_seen:  # new, or folded by another process
            for path, (size, at) in self._load(SNAPSHOT).get("files", {}).items():
                self.files.setdefault(path, (size, at))
            self._snapshot_seen = snapshot
        entries = sorted(n for n in names if n.startswith("entry-"))
        for name in entries:
            if name not in self._read:
                record = self._load(name)
                for path, size in record.get("files", {}).items():
                    self.files[path] = (size, record.get("at", 0.0))
                self._read.add(name)
        if len(entries) > FOLD_AFTER_ENTRIES:
            self._write_snapshot()
            for name in entries:
                self._delete(name)

    def is_merged(self, path: str, size: int) -> bool:
        known = self.files.get(path)
        return known is not None and known[0] == size

    def record(self, files: dict[str, int]) -> None:
        """Record files as merged (after their Delta commit succeeded)."""
        with self._lock:
            self._record(files)

    def _record(self, files: dict[str, int]) -> None:
        at = time.time()
        name = f"entry-{time.time_ns():020d}.json"
        self._put(name, {"files": files, "at": at})
        self._read.add(name)
        for path, size in files.items():
            self.files[path] = (size, at)

    def forget(self, paths: list[str]) -> None:
        """Drop records (their staging files were deleted) and fold the ledger into one snapshot."""
        with self._lock:
            self._forget(paths)

    def _forget(self, paths: list[str]) -> None:
        for path in paths:
            self.files.pop(path, None)
        entries = [n for n in self._infos() if n.startswith("entry-")]
        self._write_snapshot()
        for name in entries:
            if name in self._read:
                self._delete(name)

    def older_than(self, cutoff: float) -> list[str]:
        with self._lock:
            return sorted(path for path, (_, at) in self.files.items() if at < cutoff)

    def _infos(self) -> dict[str, tuple]:
        """Name -> (size, mtime) of the ledger's objects."""
        selector = pafs.FileSelector(self.directory, recursive=False, allow_not_found=True)
        try:
            infos = self.fs.get_file_info(selector)
        except FileNotFoundError:
            return {}
        return {
            i.base_name: (i.size, i.mtime_ns)
            for i in infos
            if i.type == pafs.FileType.File and not i.base_name.startswith(".")
        }

    def _load(self, name: str) -> dict:
        try:
            with self.fs.open_input_stream(f"{self.directory}/{name}") as stream:
                return json.loads(stream.read())
        except FileNotFoundError:  # folded away by another process since the listing
            return {}

    def _put(self, name: str, payload: dict) -> None:
        """Write one ledger object whole: an S3 PUT is atomic; on local disk, write then rename."""
        self.fs.create_dir(self.directory, recursive=True)
        target = f"{self.directory}/{name}"
        local = isinstance(self.fs, pafs.LocalFileSystem)
        path = f"{self.directory}/.{name}.{uuid.uuid4().hex}" if local else target
        with self.fs.open_output_stream(path) as stream:
            stream.write(json.dumps(payload, separators=(",", ":")).encode())
        if local:
            self.fs.move(path, target)

    def _write_snapshot(self) -> None:
        self._put(SNAPSHOT, {"files": {path: [size, at] for path, (size, at) in sorted(self.files.items())}})
        self._snapshot_seen = self._infos().get(SNAPSHOT)

    def _delete(self, name: str) -> None:
        try:
            self.fs.delete_file(f"{self.directory}/{name}")
        except FileNotFoundError:
            pass


_CACHE: dict[tuple[str, str], Ledger] = {}


def for_table(fs: pafs.FileSystem, staging_root: str, table_path: str, *, cache_key: str) -> Ledger:
    """The process-wide ledger of a staging table (``cache_key`` names the staging location)."""
    key = (cache_key, table_path)
    if key not in _CACHE:
        _CACHE[key] = Ledger(fs, staging_root, table_path)
    return _CACHE[key]


def clear_cache() -> None:
    """Forget every ledger read by this process (tests simulate a restarted committer with it)."""
    _CACHE.clear()


def pending_files(fs: pafs.FileSystem, directory: str, ledger: Ledger) -> list[tuple[str, int]]:
    """Finished staging files below ``directory`` that the ledger does not hold: (path, size)."""
    prefix = directory.rstrip("/") + "/"
    return [
        (path, size)
        for path, size in storage.visible_files_with_size(fs, directory)
        if not ledger.is_merged(path.removeprefix(prefix), size)
    ]
