"""Reads the Delta tables (the version readers are pointed at) back for the run summary: rows per table, anomalies, hourly revenue.

The summary reads every table from one catalog snapshot (lakehouse/lake/catalog.py): one table version
and one Delta version per table for the whole summary."""

from __future__ import annotations

from collections import Counter, defaultdict

from lakehouse.config import Settings
from lakehouse.lake import catalog, tables


def _snapshot(settings: Settings, snapshot: catalog.Snapshot | None) -> catalog.Snapshot:
    return snapshot or catalog.snapshot(settings, tables.ALL)


def _rows(snapshot: catalog.Snapshot, spec: tables.TableSpec, columns: list[str] | None = None) -> list[dict]:
    return snapshot.open(spec).to_pyarrow_table(columns=columns).to_pylist()


def table_counts(settings: Settings, *, snapshot: catalog.Snapshot | None = None) -> dict[str, tuple[int, int]]:
    """Rows and Delta version per table."""
    snapshot = _snapshot(settings, snapshot)
    out = {}
    for spec in tables.ALL:
        table = snapshot.open(spec)
        out[spec.name] = (table.count(), table.version())
    return out


def hourly_revenue_by_region(
    settings: Settings, *, snapshot: catalog.Snapshot | None = None
) -> dict[tuple[str, str], tuple[float, int]]:
    """(hour, region) -> (revenue in EUR, orders), from gold.order_metrics_1h."""
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    columns = ["window_start", "region", "revenue_eur", "order_count"]
    for row in _rows(_snapshot(settings, snapshot), tables.METRICS_1H, columns):
        key = (row["window_start"].strftime("%Y-%m-%d %H:%M"), row["region"])
        totals[key][0] += row["revenue_eur"]
        totals[key][1] += row["order_count"]
    return {k: (v[0], int(v[1])) for k, v in sorted(totals.items())}


def summary(settings: Settings, *, top: int = 8) -> str:
    snapshot = catalog.snapshot(settings, tables.ALL)
    lines = ["", "Tables (Delta, read back):"]
    for name, (rows, version) in table_counts(settings, snapshot=snapshot).items():
        lines.append(f"  {name:26s} {rows:>9,} rows  version {version}")
    anomalies = _rows(snapshot, tables.ANOMALIES)
    by_rule = Counter(row["rule_id"] for row in anomalies)
    lines.append("")
    lines.append(
        f"Anomalies: {len(anomalies)} firings " + ", ".join(f"{rule}={n}" for rule, n in sorted(by_rule.items()))
    )
    strongest = sorted(
        anomalies, key=lambda r: abs(r["observed"] - r["threshold"]) / max(abs(r["threshold"]), 1e-9), reverse=True
    )
    for row in strongest[:top]:
        lines.append(
            f"  {row['window_start']:%H:%M}-{row['window_end']:%H:%M} {row['level']:>2s} {row['region']:9s} "
            f"{row['category']:12s} {row['rule_id']:20s} {row['metric']}={row['observed']:,.2f} "
            f"(threshold {row['threshold']:,.2f})"
        )
    lines.append("")
    lines.append("Hourly revenue by region (EUR, from gold.order_metrics_1h):")
    for (hour, region), (revenue, orders) in hourly_revenue_by_region(settings, snapshot=snapshot).items():
        lines.append(f"  {hour}  {region:9s} {revenue:>14,.2f}  {orders:>7,} orders")
    return "\n".join(lines)
