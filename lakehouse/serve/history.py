"""History of 1-minute metrics from the gold Delta table, read at one pinned table version.

The table is found through the catalog's pointer (lakehouse/lake/catalog.py), opened once at the asked
version (or the newest), and that version is returned with the rows, so a caller can repeat the
exact same read later.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable

from lakehouse.config import Settings
from lakehouse.lake import catalog, tables
from lakehouse.serve import rows as R


class NoSuchVersion(LookupError):
    pass


class NoTable(LookupError):
    pass


def read(
    settings: Settings,
    *,
    start: datetime,
    end: datetime,
    region: str | None = None,
    category: str | None = None,
    version: int | None = None,
) -> dict:
    """Rows of gold.order_metrics_1m with start <= window_start < end, at ``version`` (default: newest)."""
    spec = tables.METRICS_1M
    uri = catalog.resolve(settings, spec)
    options = settings.reader_storage_options()
    if not DeltaTable.is_deltatable(uri, storage_options=options):
        raise NoTable(f"{spec.name} does not exist yet")
    table = DeltaTable(uri, storage_options=options)
    newest = table.version()
    if version is not None:
        if version > newest:
            raise NoSuchVersion(f"{spec.name} has no version {version}; the newest is {newest}")
        try:
            table.load_as_version(version)
        except Exception as error:  # noqa: BLE001 - vacuumed or never written: a 404 for the caller
            raise NoSuchVersion(f"{spec.name} version {version} cannot be read: {error}") from error
    kind = pa.timestamp("us", tz="UTC")
    where = (ds.field("window_start") >= pa.scalar(start, type=kind)) & (
        ds.field("window_start") < pa.scalar(end, type=kind)
    )
    if region is not None:
        where &= ds.field("region") == region
    if category is not None:
        where &= ds.field("category") == category
    selected = table.to_pyarrow_dataset().to_table(filter=where)
    selected = selected.sort_by([("window_start", "ascending"), ("region", "ascending"), ("category", "ascending")])
    rows = [R.normalise(record, R.METRIC_COLUMNS) for record in selected.to_pylist()]
    return {"table": spec.name, "table_version": table.version(), "newest_version": newest, "rows": rows}
