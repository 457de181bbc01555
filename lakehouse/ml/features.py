"""The training set's rows: features per 5-minute window and (region, category), from that window
and the ones before it, and the label from the window after it (``FEATURES``, ``build_frame``).
Pure pandas on frames already read; reading pinned versions and the manifest are training's job."""

from __future__ import annotations

import pandas as pd

from lakehouse.rules import METRICS

WINDOW = pd.Timedelta(minutes=5)
MINUTE = pd.Timedelta(minutes=1)
DIMENSIONS = ["region", "category"]

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
KEY = ["window_start", *DIMENSIONS]
_METRIC_FEATURES = list(METRICS)  # the metrics the anomaly rules watch


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
    out = grid.merge(metrics_5m[[*KEY, *_METRIC_FEATURES]], how="left", on=KEY)
    out = out.merge(_minute_features(metrics_1m), how="left", on=KEY)
    out = out.merge(_order_features(enriched), how="left", on=KEY)
    out = out.merge(_anomaly_features(anomalies, label_rules), how="left", on=KEY)
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
    out = out.sort_values(KEY, kind="mergesort").reset_index(drop=True)
    return _typed(out)


def _grid(metrics_5m: pd.DataFrame) -> pd.DataFrame:
    starts = pd.date_range(metrics_5m["window_start"].min(), metrics_5m["window_start"].max(), freq=WINDOW)
    dims = metrics_5m[DIMENSIONS].drop_duplicates().sort_values(DIMENSIONS)
    return (
        pd.DataFrame({"window_start": starts})
        .merge(dims, how="cross")
        .sort_values(KEY, kind="mergesort")
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
    grouped = e.groupby(KEY, sort=True)
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
