"""The gold suites: the windowed metrics at each level (and that coarser levels add up from the
1-minute windows), the anomalies (a configured rule that really fired on a window that exists) and
the current state per order (against the event log it was folded from)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from lakehouse import rules
from lakehouse.lake import read_model, tables
from lakehouse.quality.expectations import (
    REL_TOL,
    Check,
    Inputs,
    at_least,
    close,
    epoch_ms,
    holds,
    in_set,
    not_after,
    not_null,
    unique,
)

LEVEL_MS = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000}
METRICS_BY_LEVEL = {"1m": tables.METRICS_1M, "5m": tables.METRICS_5M, "1h": tables.METRICS_1H}


def metrics(level: str) -> Callable[[Inputs], list[Check]]:
    size = LEVEL_MS[level]

    def suite(inputs: Inputs) -> list[Check]:
        df = inputs.frame.copy()
        start_ms, end_ms = epoch_ms(df["window_start"]), epoch_ms(df["window_end"])
        df["window_is_one_" + level] = (end_ms - start_ms) == size
        df["window_is_aligned"] = (start_ms % size) == 0
        df["average_is_revenue_over_count"] = close(df["avg_order_value_eur"] * df["order_count"], df["revenue_eur"])
        slack = REL_TOL * np.maximum(1.0, df["avg_order_value_eur"].abs())
        df["min_le_average_le_max"] = (df["min_amount_eur"] <= df["avg_order_value_eur"] + slack) & (
            df["avg_order_value_eur"] <= df["max_amount_eur"] + slack
        )
        expectations = [
            *not_null(*tables.METRICS_1M.column_names()),
            unique("window_start", "region", "category"),
            at_least("order_count", 1),
            at_least("distinct_customers", 1),
            at_least("revenue_eur", 0, strict=True),
            at_least("min_amount_eur", 0, strict=True),
            not_after("distinct_customers", "order_count", "no more distinct customers than orders"),
            holds(f"window_is_one_{level}", f"window_end - window_start is {level}"),
            holds("window_is_aligned", f"window_start is a multiple of {level} since the epoch"),
            holds("average_is_revenue_over_count", "avg_order_value_eur * order_count == revenue_eur"),
            holds("min_le_average_le_max", "min_amount_eur <= avg_order_value_eur <= max_amount_eur"),
        ]
        checks = [Check(name="rows", frame=df, expectations=expectations, index=["window_start", "region", "category"])]
        if level != "1m":
            minutes = inputs.load(tables.METRICS_1M.name)
            checks.append(window_sums(df, minutes, size=size, level=level))
        return checks

    return suite


def window_sums(parents: pd.DataFrame, minutes: pd.DataFrame, *, size: int, level: str) -> Check:
    """Reconcile a coarser level with the 1-minute windows inside it, one row per parent window."""
    keys = ["window_start", "region", "category"]
    children = minutes.copy()
    children["parent_start"] = pd.to_datetime(
        (epoch_ms(children["window_start"]) // size) * size, unit="ms", utc=True
    ).astype(parents["window_start"].dtype)
    if not parents.empty:  # windows after the newest parent may still be open at this level
        children = children[children["parent_start"] <= parents["window_start"].max()]
    rolled = (
        children.groupby(["parent_start", "region", "category"])
        .agg(
            order_count_1m=("order_count", "sum"),
            revenue_eur_1m=("revenue_eur", "sum"),
            min_amount_eur_1m=("min_amount_eur", "min"),
            max_amount_eur_1m=("max_amount_eur", "max"),
            distinct_customers_1m_sum=("distinct_customers", "sum"),
            distinct_customers_1m_max=("distinct_customers", "max"),
        )
        .reset_index()
        .rename(columns={"parent_start": "window_start"})
    )
    frame = parents[[*keys, "order_count", "revenue_eur", "min_amount_eur", "max_amount_eur", "distinct_customers"]]
    frame = frame.merge(rolled, how="outer", on=keys, indicator=True)
    frame[f"{level}_row_has_1m_rows"] = frame["_merge"] != "left_only"
    frame[f"1m_rows_have_a_{level}_row"] = frame["_merge"] != "right_only"
    both = frame["_merge"] == "both"
    frame["order_count_is_sum_of_1m"] = ~both | (frame["order_count"] == frame["order_count_1m"])
    frame["revenue_is_sum_of_1m"] = ~both | close(frame["revenue_eur"], frame["revenue_eur_1m"])
    frame["min_amount_is_min_of_1m"] = ~both | (frame["min_amount_eur"] == frame["min_amount_eur_1m"])
    frame["max_amount_is_max_of_1m"] = ~both | (frame["max_amount_eur"] == frame["max_amount_eur_1m"])
    frame["distinct_customers_within_1m_bounds"] = ~both | (
        (frame["distinct_customers"] >= frame["distinct_customers_1m_max"])
        & (frame["distinct_customers"] <= frame["distinct_customers_1m_sum"])
    )
    frame = frame.drop(columns="_merge")
    expectations = [
        holds(f"{level}_row_has_1m_rows", f"every {level} window has the 1-minute windows it rolls up"),
        holds(
            f"1m_rows_have_a_{level}_row",
            f"every 1-minute window (up to the newest {level} one) rolls up into a {level} row",
        ),
        holds("order_count_is_sum_of_1m", f"a {level} order_count is the sum of its 1-minute order counts"),
        holds("revenue_is_sum_of_1m", f"a {level} revenue is the sum of its 1-minute revenues (relative {REL_TOL:g})"),
        holds("min_amount_is_min_of_1m", f"a {level} min_amount_eur is the smallest 1-minute one"),
        holds("max_amount_is_max_of_1m", f"a {level} max_amount_eur is the largest 1-minute one"),
        holds(
            "distinct_customers_within_1m_bounds",
            f"{level} distinct customers lie between the largest 1-minute count and the sum of them",
        ),
    ]
    evidence = ["order_count", "order_count_1m", "revenue_eur", "revenue_eur_1m"]
    return Check(name="window_sums", frame=frame, expectations=expectations, index=keys + evidence)


def anomalies(inputs: Inputs) -> list[Check]:
    df = inputs.frame.copy()
    configured = rules.load(inputs.settings.rules_file)
    by_id = {r.id: r for r in (*configured.static, *configured.adaptive)}
    inputs.context["rules_file"] = str(inputs.settings.rules_file)

    def matches(row) -> bool:
        rule = by_id.get(row.rule_id)
        if rule is None:
            return False
        kind = "static" if isinstance(rule, rules.StaticRule) else "adaptive"
        same = (row.rule_kind, row.level, row.metric) == (kind, rule.level, rule.metric)
        return same and (kind == "adaptive" or row.threshold == rule.threshold)

    def crosses(row) -> bool:
        rule = by_id.get(row.rule_id)
        if isinstance(rule, rules.StaticRule):
            return rule.fires(row.observed)
        return row.observed > row.threshold

    df["rule_matches_configuration"] = [matches(r) for r in df.itertuples()]
    df["observed_crosses_threshold"] = [crosses(r) for r in df.itertuples()]
    keys = ["rule_id", "window_start", "region", "category"]
    expectations = [
        *not_null(*tables.ANOMALIES.column_names()),
        unique(*keys),
        in_set("rule_kind", ("static", "adaptive")),
        in_set("level", rules.LEVELS),
        in_set("metric", rules.METRICS),
        in_set("rule_id", by_id),
        holds("rule_matches_configuration", "kind, level, metric (and a static threshold) are the configured rule's"),
        holds("observed_crosses_threshold", "the observed value crosses the threshold (the rule really fired)"),
    ]
    return [
        Check(name="rows", frame=df, expectations=expectations, index=keys),
        _anomalies_vs_metrics(df, inputs.load),
    ]


def _anomalies_vs_metrics(df: pd.DataFrame, load: Callable[[str], pd.DataFrame]) -> Check:
    parts = []
    for level, spec in METRICS_BY_LEVEL.items():
        subset = df[df["level"] == level]
        if subset.empty:
            continue
        windows = load(spec.name).melt(
            id_vars=["window_start", "region", "category"], value_vars=list(rules.METRICS), var_name="metric"
        )
        parts.append(subset.merge(windows, how="left", on=["window_start", "region", "category", "metric"]))
    frame = pd.concat(parts, ignore_index=True) if parts else df.assign(value=pd.Series(dtype=float))
    frame["window_exists_at_its_level"] = frame["value"].notna()
    frame["observed_is_the_window_metric"] = frame["value"].notna() & close(
        frame["observed"], frame["value"].astype(float)
    )
    expectations = [
        holds("window_exists_at_its_level", "every anomaly names a window present in its level's metrics table"),
        holds("observed_is_the_window_metric", "observed equals that window's metric value"),
    ]
    return Check(
        name="vs_metrics",
        frame=frame,
        expectations=expectations,
        index=["rule_id", "window_start", "region", "category", "observed", "value"],
    )


_STEP_TIMES = ("placed_at", "paid_at", "reserved_at", "shipped_at", "delivered_at")  # read_model.STEPS' times


def orders_current(inputs: Inputs) -> list[Check]:
    df = inputs.frame.copy()
    cancelled, paid = df["cancelled_at"].notna(), df["paid_at"].notna()
    df["compensated_iff_cancelled_after_payment"] = df["compensated"] == (cancelled & paid)
    df["refund_is_the_paid_amount_when_compensated"] = (
        ~df["compensated"] | (df["refund_due"] == df["paid_amount"])
    ) & (df["compensated"] | (df["refund_due"] == 0))
    step_times = dict(zip((*read_model.STEPS, read_model.CANCELLED), (*_STEP_TIMES, "cancelled_at"), strict=True))
    df["status_has_its_step_time"] = False
    for status, column in step_times.items():
        df["status_has_its_step_time"] |= (df["status"] == status) & df[column].notna()
    df["cancelled_iff_status_cancelled"] = cancelled == (df["status"] == read_model.CANCELLED)
    df["steps_in_time_order"] = [
        all(a <= b for a, b in zip(times, times[1:], strict=False))
        for times in ([t for t in row if pd.notna(t)] for row in df[list(_STEP_TIMES)].itertuples(index=False))
    ]
    expectations = [
        *not_null("order_id", "status", "event_count", "last_event_id", "last_event_time", "state_hash"),
        unique("order_id"),
        in_set("status", (*read_model.STEPS, read_model.CANCELLED)),
        at_least("event_count", 1),
        at_least("duplicate_events", 0),
        at_least("refund_due", 0),
        holds("compensated_iff_cancelled_after_payment", "compensated exactly when the order was paid and cancelled"),
        holds("refund_is_the_paid_amount_when_compensated", "refund_due is the paid amount if compensated, else 0"),
        holds("status_has_its_step_time", "the status's step has a timestamp"),
        holds("cancelled_iff_status_cancelled", "status is CANCELLED exactly when a cancellation is known"),
        holds(
            "steps_in_time_order",
            "placed <= paid <= reserved <= shipped <= delivered (a warning: event clocks of services may disagree)",
            severity="warning",
        ),
    ]
    checks = [Check(name="rows", frame=df, expectations=expectations, index=["order_id"])]
    source_version = inputs.commit_metadata.get("lakehouse.source_version")
    if source_version is None:
        inputs.context.setdefault("skipped", []).append("vs_event_log: the version names no source version")
    else:
        log = inputs.load(tables.ORDER_EVENTS.name, version=int(source_version))
        checks.append(_orders_vs_log(df, log))
    return checks


def _orders_vs_log(df: pd.DataFrame, log: pd.DataFrame) -> Check:
    counts = log.groupby("order_id").size().rename("events_in_log").reset_index()
    frame = df[["order_id", "event_count"]].merge(counts, how="outer", on="order_id", indicator=True)
    frame["order_in_read_model"] = frame["_merge"] != "right_only"
    frame["order_in_event_log"] = frame["_merge"] != "left_only"
    frame["event_count_is_the_log_count"] = frame["_merge"].ne("both") | (
        frame["event_count"] == frame["events_in_log"]
    )
    frame = frame.drop(columns="_merge")
    expectations = [
        holds("order_in_read_model", "every order of the event log (at the version folded) has a row"),
        holds("order_in_event_log", "every row is an order of the event log"),
        holds("event_count_is_the_log_count", "each row folded all of its order's events, no more"),
    ]
    return Check(
        name="vs_event_log", frame=frame, expectations=expectations, index=["order_id", "event_count", "events_in_log"]
    )
