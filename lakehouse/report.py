"""Reads the Delta tables (the version readers are pointed at) back for the run summary: rows per table, anomalies, hourly revenue."""

from __future__ import annotations

from collections import Counter, defaultdict

from deltalake import DeltaTable

from lakehouse import catalog, tables
from lakehouse.config import Settings


def _rows(settings: Settings, spec: tables.TableSpec, columns: list[str] | None = None) -> list[dict]:
    table = DeltaTable(catalog.resolve(settings, spec), storage_options=settings.storage_options())
    return table.to_pyarrow_table(columns=columns).to_pylist()


def table_counts(settings: Settings) -> dict[str, tuple[int, int]]:
    """Rows and Delta version per table."""
    out = {}
    for spec in tables.ALL:
        table = DeltaTable(catalog.resolve(settings, spec), storage_options=settings.storage_options())
        out[spec.name] = (table.count(), table.version())
    return out


def hourly_revenue_by_region(settings: Settings) -> dict[tuple[str, str], tuple[float, int]]:
    """(hour, region) -> (revenue in EUR, orders), from gold.order_metrics_1h."""
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    for row in _rows(settings, tables.METRICS_1H, ["window_start", "region", "revenue_eur", "order_count"]):
        key = (row["window_start"].strftime("%Y-%m-%d %H:%M"), row["region"])
        totals[key][0] += row["revenue_eur"]
        totals[key][1] += row["order_count"]
    return {k: (v[0], int(v[1])) for k, v in sorted(totals.items())}


def summary(settings: Settings, *, top: int = 8) -> str:
    lines = ["", "Tables (Delta, read back):"]
    for name, (rows, version) in table_counts(settings).items():
        lines.append(f"  {name:26s} {rows:>9,} rows  version {version}")
    anomalies = _rows(settings, tables.ANOMALIES)
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
    for (hour, region), (revenue, orders) in hourly_revenue_by_region(settings).items():
        lines.append(f"  {hour}  {region:9s} {revenue:>14,.2f}  {orders:>7,} orders")
    return "\n".join(lines)
