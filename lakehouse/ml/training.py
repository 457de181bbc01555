"""Labelled training sets from pinned Delta table versions, rebuildable exactly from a manifest.

A training set here answers: given what a (region, category) did in a 5-minute window, will an
anomaly rule fire for it in the *next* 5-minute window? One row per window start and
(region, category); the features come only from the window itself and the ones before it, the
label only from the window after it (see ``FEATURES`` and ``build_frame``).

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
from lakehouse.rules import METRICS

NAME = "orders_anomaly_next_5m"
FEATURE_VERSION = 1
WINDOW = pd.Timedelta(minutes=5)
MINUTE = pd.Timedelta(minutes=1)
DIMENSIONS = ["region", "category"]
SOURCES = (tables.METRICS_1M, tables.METRICS_5M, tables.ORDERS_ENRICHED, tables.ANOMALIES)
DATA_FILE = "training.parquet"
MANIFEST_FILE = "manifest.json"

# Feature columns, in output order, with what they mean. Every one is known when the window closes.
FEATURES = {
    "order_count": "orders in the window (0 when none)",
    "revenue_eur": "revenue in the window, EUR",
    "avg_order_value_eur": "average order value (null when no order)",
    "distinct_customers": "distinct customers in the window",
    "min_amount_eur": "smallest order, EUR (null when no order)",
    "max_amount_eur": "largest order, EUR (null when no order)",
    "active_minutes": "1-minute windows with at least one order (0-5)",
    "revenue_1m_max": "largest 1-minute revenue inside the window",
    "revenue_1m_std": "population std of the five 1-minute revenues (missing minutes count as 0)",
    "revenue_1m_last": "revenue of the window's last minute",
    "revenue_1m_trend": "last minute's revenue minus the first minute's",
    "mean_quantity": "average units per order (null when no order)",
    "max_quantity": "largest units per order (0 when no order)",
    "share_business": "share of orders from business customers",
    "share_non_eur": "share of orders paid in another currency than EUR",
    "distinct_products": "distinct products ordered",
    "revenue_prev": "revenue of the previous window (null for the first)",
    "order_count_prev": "orders in the previous window (null for the first)",
    "revenue_change": "revenue minus the previous window's (null for the first)",
    "revenue_vs_trailing_3": "revenue over the mean of the previous three windows (null without history or when that mean is 0)",
    "anomalies_in_window": "anomaly firings inside this window (any rule)",
}
LABEL = "label"


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


def build_frame(
    metrics_1m: pd.DataFrame,
    metrics_5m: pd.DataFrame,
    enriched: pd.DataFrame,
    anomalies: pd.DataFrame,
    *,
    label_rules: list[str] | None = None,
) -> pd.DataFrame:
    """Features per 5-minute window and (region, category), and the next-window label.

    The grid is every 5-minute window from the first to the last one in ``metrics_5m`` times every
    (region, category) seen there; a window without orders is a row of zeros (a drop to nothing
    is a signal too). ``label`` is 1 when a rule in ``label_rules`` (None: every rule) fired on a
    window lying inside the next 5 minutes for the same region and category. Rows whose next
    window is beyond the last one in ``metrics_5m`` have no known label and are left out.
    """
    if metrics_5m.empty:
        return _empty_frame()
    grid = _grid(metrics_5m)
    out = grid.merge(metrics_5m[[*_KEY, *_METRIC_FEATURES]], how="left", on=_KEY)
    out = out.merge(_minute_features(metrics_1m), how="left", on=_KEY)
    out = out.merge(_order_features(enriched), how="left", on=_KEY)
    out = out.merge(_anomaly_features(anomalies, label_rules), how="left", on=_KEY)
    zero_filled = [
        "order_count",
        "revenue_eur",
        "distinct_customers",
        "active_minutes",
        "revenue_1m_max",
        "revenue_1m_std",
        "revenue_1m_last",
        "revenue_1m_trend",
        "max_quantity",
        "share_business",
        "share_non_eur",
        "distinct_products",
        "anomalies_in_window",
        "next_anomalies",
    ]
    out[zero_filled] = out[zero_filled].fillna(0)
    out["next_rules"] = out["next_rules"].fillna("")
    out = _lags(out)
    last = metrics_5m["window_start"].max()
    out = out[out["window_start"] + WINDOW <= last].copy()
    out[LABEL] = (out["next_anomalies"] > 0).astype("int8")
    out = out.sort_values(_KEY, kind="mergesort").reset_index(drop=True)
    return _typed(out)


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

_KEY = ["window_start", *DIMENSIONS]
_METRIC_FEATURES = list(METRICS)  # the metrics the anomaly rules watch


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
            "content_sha256": content_hash(frame, sort_by=_KEY),
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


def _grid(metrics_5m: pd.DataFrame) -> pd.DataFrame:
    starts = pd.date_range(metrics_5m["window_start"].min(), metrics_5m["window_start"].max(), freq=WINDOW)
    dims = metrics_5m[DIMENSIONS].drop_duplicates().sort_values(DIMENSIONS)
    return (
        pd.DataFrame({"window_start": starts})
        .merge(dims, how="cross")
        .sort_values(_KEY, kind="mergesort")
        .reset_index(drop=True)
    )


def _minute_features(metrics_1m: pd.DataFrame) -> pd.DataFrame:
    if metrics_1m.empty:
        return _no_rows(["active_minutes", "revenue_1m_max", "revenue_1m_std", "revenue_1m_last", "revenue_1m_trend"])
    m = metrics_1m[["window_start", *DIMENSIONS, "revenue_eur"]].copy()
    m["parent"] = m["window_start"].dt.floor(WINDOW)
    m["minute"] = ((m["window_start"] - m["parent"]) // MINUTE).astype(int)
    wide = m.pivot_table(index=["parent", *DIMENSIONS], columns="minute", values="revenue_eur", aggfunc="sum")
    wide = wide.reindex(columns=range(5)).fillna(0.0)
    values = wide.to_numpy()
    out = pd.DataFrame(
        {
            "active_minutes": (values > 0).sum(axis=1),
            "revenue_1m_max": values.max(axis=1),
            "revenue_1m_std": values.std(axis=1),
            "revenue_1m_last": values[:, 4],
            "revenue_1m_trend": values[:, 4] - values[:, 0],
        },
        index=wide.index,
    )
    return out.reset_index().rename(columns={"parent": "window_start"})


def _order_features(enriched: pd.DataFrame) -> pd.DataFrame:
    if enriched.empty:
        return _no_rows(["mean_quantity", "max_quantity", "share_business", "share_non_eur", "distinct_products"])
    e = enriched[["event_time", "event_id", *DIMENSIONS, "quantity", "segment", "currency", "product_id"]].copy()
    e["window_start"] = e["event_time"].dt.floor(WINDOW)
    e["business"] = (e["segment"] == "business").astype(float)
    e["non_eur"] = (e["currency"] != "EUR").astype(float)
    e = e.sort_values(["event_time", "event_id"], kind="mergesort")
    grouped = e.groupby(_KEY, sort=True)
    return grouped.agg(
        mean_quantity=("quantity", "mean"),
        max_quantity=("quantity", "max"),
        share_business=("business", "mean"),
        share_non_eur=("non_eur", "mean"),
        distinct_products=("product_id", "nunique"),
    ).reset_index()


def _anomaly_features(anomalies: pd.DataFrame, label_rules: list[str] | None) -> pd.DataFrame:
    """Per window: firings inside it (any rule), and the label rules' firings inside the next one."""
    a = anomalies[["rule_id", "window_start", "window_end", *DIMENSIONS]].copy()
    a["bucket"] = a["window_start"].dt.floor(WINDOW)
    a = a[a["window_end"] <= a["bucket"] + WINDOW]  # 1m and 5m firings; a 1h window spans twelve
    current = a.groupby(["bucket", *DIMENSIONS]).size().rename("anomalies_in_window")
    labelled = a if label_rules is None else a[a["rule_id"].isin(label_rules)]
    labelled = labelled.assign(bucket=labelled["bucket"] - WINDOW)  # credited to the window before
    grouped = labelled.groupby(["bucket", *DIMENSIONS])
    nexts = pd.concat(
        [
            grouped.size().rename("next_anomalies"),
            grouped["rule_id"].agg(lambda ids: ",".join(sorted(set(ids)))).rename("next_rules"),
        ],
        axis=1,
    )
    if current.empty and nexts.empty:
        return _no_rows(["anomalies_in_window", "next_anomalies"]).assign(next_rules=pd.Series(dtype=object))
    return pd.concat([current, nexts], axis=1).reset_index().rename(columns={"bucket": "window_start"})


def _lags(out: pd.DataFrame) -> pd.DataFrame:
    out = out.sort_values([*DIMENSIONS, "window_start"], kind="mergesort")
    by_dim = out.groupby(DIMENSIONS, sort=False)
    out["revenue_prev"] = by_dim["revenue_eur"].shift(1)
    out["order_count_prev"] = by_dim["order_count"].shift(1)
    out["revenue_change"] = out["revenue_eur"] - out["revenue_prev"]
    trailing = by_dim["revenue_eur"].transform(lambda s: s.shift(1).rolling(3, min_periods=1).mean())
    out["revenue_vs_trailing_3"] = out["revenue_eur"] / trailing.where(trailing > 0)
    return out


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    ints = ["order_count", "distinct_customers", "active_minutes", "max_quantity", "distinct_products"]
    ints += ["anomalies_in_window", "next_anomalies"]
    out[ints] = out[ints].astype("int64")
    out["order_count_prev"] = out["order_count_prev"].astype("Int64")
    out["window_start"] = out["window_start"].astype("datetime64[us, UTC]")  # Delta's resolution
    columns = ["window_start", *DIMENSIONS, *FEATURES, "next_anomalies", "next_rules", LABEL]
    return out[columns]


def _no_rows(columns: list[str]) -> pd.DataFrame:
    """An empty feature frame whose key columns have the grid's types, so merges keep working."""
    keys = {
        "window_start": pd.Series(dtype="datetime64[us, UTC]"),
        **{d: pd.Series(dtype=object) for d in DIMENSIONS},
    }
    return pd.DataFrame({**keys, **{c: pd.Series(dtype=float) for c in columns}})


def _empty_frame() -> pd.DataFrame:
    columns = ["window_start", *DIMENSIONS, *FEATURES, "next_anomalies", "next_rules", LABEL]
    return pd.DataFrame({c: [] for c in columns})
