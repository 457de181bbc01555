"""Labelled training sets from pinned Delta table versions, rebuildable exactly from a manifest.

A training set here answers: given what a (region, category) did in a 5-minute window, will an
anomaly rule fire for it in the *next* 5-minute window? One row per window start and
(region, category); the features come only from the window itself and the ones before it, the
label only from the window after it (``FEATURES`` and ``build_frame``, in features.py).

Reproducibility: every source table is read at a pinned Delta version. The manifest written next
to the Parquet file records, per source, its URI, version, row count and a content hash, plus the
build parameters and the output's own row count and content hash. ``rebuild_from_manifest`` reads
the same versions (Delta time travel), refuses if a source's rows or hash changed (a vacuumed or
rewritten table), rebuilds, and checks the result has the recorded hash.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from lakehouse.config import Settings
from lakehouse.lake import catalog, tables
from lakehouse.ml.features import DIMENSIONS, FEATURES, KEY, LABEL, WINDOW, build_frame

__all__ = [
    "DATA_FILE",
    "DIMENSIONS",
    "FEATURES",
    "FEATURE_VERSION",
    "LABEL",
    "MANIFEST_FILE",
    "NAME",
    "SOURCES",
    "WINDOW",
    "ManifestMismatch",
    "SourcePin",
    "build_frame",
    "build_training_set",
    "content_hash",
    "load_training_set",
    "pin_sources",
    "read_source",
    "rebuild_from_manifest",
    "same_build",
]

NAME = "orders_anomaly_next_5m"
FEATURE_VERSION = 1
SOURCES = (tables.METRICS_1M, tables.METRICS_5M, tables.ORDERS_ENRICHED, tables.ANOMALIES)
DATA_FILE = "training.parquet"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True, kw_only=True)
class SourcePin:
    """A source table at one Delta version, with what identifies its content."""

    table: str
    uri: str
    version: int
    rows: int
    content_sha256: str


class ManifestMismatch(RuntimeError):
    """A source or the rebuilt output does not match what the manifest recorded."""


def pin_sources(
    settings: Settings,
    *,
    versions: dict[str, int] | None = None,
    validated_only: bool = False,
    snapshot: catalog.Snapshot | None = None,
) -> dict[str, int]:
    """The Delta version to read per source table.

    ``versions`` fixes some of them; the others are the latest version (in ``snapshot``, when
    given), or with ``validated_only`` the latest version that passed its data-quality suite
    (``lakehouse.quality.gates``).
    """
    snapshot = snapshot or catalog.snapshot(settings, SOURCES)
    pinned = dict(versions or {})
    for spec in SOURCES:
        if spec.name in pinned:
            continue
        if validated_only:
            from lakehouse.quality import gates

            version = gates.latest_validated_version(spec.name, settings=settings)
            if version is None:
                raise LookupError(f"{spec.name} has no validated version; run `lakehouse quality check {spec.name}`")
            pinned[spec.name] = version
        else:
            pinned[spec.name] = snapshot.open(spec).version()
    return pinned


def content_hash(frame: pa.Table | pd.DataFrame, *, sort_by: list[str]) -> str:
    """sha256 of a table's columns, types and rows in key order: equal data, equal hash."""
    df = frame.to_pandas() if isinstance(frame, pa.Table) else frame
    df = df.sort_values(sort_by, kind="mergesort").reset_index(drop=True)
    digest = hashlib.sha256()
    digest.update(json.dumps([[c, str(df[c].dtype)] for c in df.columns]).encode())
    digest.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def read_source(uri: str, version: int, *, storage_options: dict | None = None) -> pa.Table:
    return DeltaTable(uri, version=version, storage_options=storage_options or {}).to_pyarrow_table()


def build_training_set(
    settings: Settings,
    out_dir: Path,
    *,
    versions: dict[str, int] | None = None,
    validated_only: bool = False,
    label_rules: list[str] | None = None,
) -> dict:
    """Read the sources at pinned versions, write ``training.parquet`` and ``manifest.json``; return the manifest."""
    snapshot = catalog.snapshot(settings, SOURCES)  # the pointer is read once for the whole set
    pinned = pin_sources(settings, versions=versions, validated_only=validated_only, snapshot=snapshot)
    sources = {spec.name: (snapshot.location(spec), pinned[spec.name]) for spec in SOURCES}
    return _build(
        sources,
        Path(out_dir),
        storage_options=settings.reader_storage_options(),
        label_rules=label_rules,
        validated_only=validated_only,
    )


def rebuild_from_manifest(manifest_path: Path, out_dir: Path, *, storage_options: dict | None = None) -> dict:
    """Rebuild a training set exactly from its manifest; raise ManifestMismatch when it cannot be."""
    recorded = json.loads(Path(manifest_path).read_text())
    if recorded.get("feature_version") != FEATURE_VERSION:
        raise ManifestMismatch(
            f"manifest has feature_version {recorded.get('feature_version')}, this code builds {FEATURE_VERSION}"
        )
    sources = {name: (pin["uri"], pin["version"]) for name, pin in recorded["sources"].items()}
    rebuilt = _build(
        sources,
        Path(out_dir),
        storage_options=storage_options,
        label_rules=recorded["params"]["label_rules"],
        validated_only=recorded["params"].get("validated_only", False),
        expected=recorded,
    )
    return rebuilt


def load_training_set(directory: Path) -> tuple[pd.DataFrame, dict]:
    """The training rows and their manifest."""
    directory = Path(directory)
    return pq.read_table(directory / DATA_FILE).to_pandas(), json.loads((directory / MANIFEST_FILE).read_text())


def same_build(a: dict, b: dict) -> bool:
    """Two manifests describe the same training set: same sources, parameters and output content."""

    def essence(m: dict) -> dict:
        return {
            "sources": m["sources"],
            "params": m["params"],
            "output": {k: v for k, v in m["output"].items() if k != "file_sha256"},
        }

    return essence(a) == essence(b)


# --- internals ---------------------------------------------------------------------------------


def _build(
    sources: dict[str, tuple[str, int]],
    out_dir: Path,
    *,
    storage_options: dict | None,
    label_rules: list[str] | None,
    validated_only: bool,
    expected: dict | None = None,
) -> dict:
    frames, pins = {}, {}
    for spec in SOURCES:
        uri, version = sources[spec.name]
        table = read_source(uri, version, storage_options=storage_options)
        pin = SourcePin(
            table=spec.name,
            uri=uri,
            version=int(version),
            rows=table.num_rows,
            content_sha256=content_hash(table, sort_by=list(spec.key)),
        )
        if expected is not None and expected["sources"][spec.name] != asdict(pin):
            raise ManifestMismatch(
                f"{spec.name} at version {version} is not what the manifest recorded: "
                f"{expected['sources'][spec.name]} != {asdict(pin)} (vacuumed or rewritten table?)"
            )
        frames[spec.name] = table.to_pandas()
        pins[spec.name] = asdict(pin)
    frame = build_frame(
        frames[tables.METRICS_1M.name],
        frames[tables.METRICS_5M.name],
        frames[tables.ORDERS_ENRICHED.name],
        frames[tables.ANOMALIES.name],
        label_rules=label_rules,
    )
    output = pa.Table.from_pandas(frame, preserve_index=False)
    manifest = {
        "name": NAME,
        "feature_version": FEATURE_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "builder": f"{__name__}.build_training_set",
        "sources": pins,
        "params": {
            "window": "5m",
            "dimensions": DIMENSIONS,
            "label": "an anomaly fired in the next 5-minute window for the same region and category",
            "label_rules": sorted(label_rules) if label_rules is not None else None,
            "validated_only": validated_only,
        },
        "features": FEATURES,
        "output": {
            "file": DATA_FILE,
            "rows": output.num_rows,
            "positives": int(frame[LABEL].sum()),
            "columns": output.column_names,
            "content_sha256": content_hash(frame, sort_by=KEY),
        },
        "environment": {
            "python": platform.python_version(),
            "pandas": pd.__version__,
            "pyarrow": pa.__version__,
            "numpy": np.__version__,
        },
    }
    if expected is not None and expected["output"]["content_sha256"] != manifest["output"]["content_sha256"]:
        raise ManifestMismatch(
            "the rebuilt training set differs from the recorded one "
            f"({manifest['output']['content_sha256']} != {expected['output']['content_sha256']})"
        )
    _write(out_dir, output, manifest)
    return manifest


def _write(out_dir: Path, output: pa.Table, manifest: dict) -> None:
    """Write into a temporary sibling and swap it in, so a reader never sees half a set."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    pq.write_table(output, staging / DATA_FILE, compression="zstd")
    manifest["output"]["file_sha256"] = hashlib.sha256((staging / DATA_FILE).read_bytes()).hexdigest()
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
