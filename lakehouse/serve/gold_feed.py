"""The other feed of the store: gold Delta tables instead of the speed topics.

For the embedded default (no Kafka: `lakehouse run --serve`) and as a rebuild from the latest gold
version. Polls the version of gold.order_metrics_1m and gold.anomalies (through the catalog
pointer) and, when one moved, reads the rows of the last ``horizon_hours`` of data from that one
version and upserts them: the store's upsert by key keeps only what changed, and only that is
pushed. As fresh as the commits, so slower than the topics; the same answers once committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable

from lakehouse.config import Settings
from lakehouse.lake import catalog, tables
from lakehouse.serve import rows as R
from lakehouse.serve.feed import Feed
from lakehouse.serve.store import Store

log = logging.getLogger("lakehouse.serve")


class GoldFeed(Feed):
    """Gold tables -> store; ``caught_up`` is set after the first pass over both tables."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        publish: Callable[[dict], None],
        *,
        horizon_hours: float = 24.0,
        interval: float = 1.0,
    ) -> None:
        super().__init__(settings, store, publish, thread_name="gold-feed")
        self._horizon = timedelta(hours=horizon_hours)
        self._interval = interval
        self._versions: dict[str, int] = {}
        self.sources = [tables.METRICS_1M.name, tables.ANOMALIES.name]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
                self.last_error = None
            except Exception as error:  # noqa: BLE001 - keep serving what is there; try again
                self.last_error = f"{type(error).__name__}: {error}"
                log.warning("gold feed: %s", self.last_error)
            self._stop.wait(self._interval)

    def poll(self) -> None:
        """One pass: read each table whose version moved since the last pass."""
        for spec, columns, put, kind in (
            (tables.METRICS_1M, R.METRIC_COLUMNS, self._store.put_metrics, "metrics"),
            (tables.ANOMALIES, R.ANOMALY_COLUMNS, self._store.put_anomalies, "anomalies"),
        ):
            rows = self._read_if_moved(spec)
            if rows is None:
                continue
            normalised = [R.normalise(row, columns) for row in rows]
            self.consumed += len(normalised)
            changed = put(normalised)
            if changed:
                self._publish({"type": kind, "rows": changed})
        self.caught_up.set()

    def _read_if_moved(self, spec: tables.TableSpec) -> list[dict] | None:
        uri = catalog.resolve(self._settings, spec)
        options = self._settings.reader_storage_options()
        if not DeltaTable.is_deltatable(uri, storage_options=options):
            return None
        table = DeltaTable(uri, storage_options=options)
        version = table.version()
        if self._versions.get(spec.name) == version:
            return None
        data = table.to_pyarrow_dataset()  # one version for the whole read
        newest = pc.max(data.to_table(columns=["window_start"])["window_start"]).as_py()
        self._versions[spec.name] = version
        if newest is None:
            return []
        since = pa.scalar(newest - self._horizon, type=pa.timestamp("us", tz="UTC"))
        return data.to_table(filter=ds.field("window_start") >= since).to_pylist()
