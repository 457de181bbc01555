"""The great-expectations suites, one per table: what each table's rows must satisfy.

A suite is a list of ``Check``: one pandas frame and the expectations it must meet. Most checks run
on the table's rows; the cross-table ones run on a frame derived from the table and its
neighbours (the 1-minute windows a 5-minute row must add up from, the metric row an anomaly
names, the dimension versions an enriched order joined). Derived columns are computed here in
pandas and named for what they assert, so a failure reads as a sentence. ``docs/quality.md``
explains every check.

Severity: every expectation is critical (a failure marks the table version as not validated)
unless it says ``severity="warning"`` (reported and recorded, but not blocking).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
from great_expectations.expectations.row_conditions import Column as Col

from lakehouse import contract, rules
from lakehouse.config import Settings
from lakehouse.lake import read_model, tables

LEVEL_MS = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000}
METRICS_BY_LEVEL = {"1m": tables.METRICS_1M, "5m": tables.METRICS_5M, "1h": tables.METRICS_1H}
REL_TOL = 1e-9  # the window levels roll up the same partials; sums agree to float rounding
SOURCE_STREAMS = ("order-events", "customers", "products")
# event type -> the columns a valid event of that type carries (the contract does not require a
# DELIVERED signature, so DELIVERED has none)
REQUIRED_BY_TYPE = {t: contract.required_columns(t) for t in contract.EVENT_TYPES if contract.required_columns(t)}


@dataclass(kw_only=True)
class Check:
    """One frame and the expectations it must meet; ``index`` columns identify failing rows."""

    name: str
    frame: pd.DataFrame
    expectations: list
    index: list[str]


@dataclass(kw_only=True)
class Inputs:
    """What a suite may read: the table at the version under test, and its neighbours."""

    settings: Settings
    table: str
    version: int
    frame: pd.DataFrame
    load: Callable[..., pd.DataFrame]  # load(table, version=None): another table (versions read go to context)
    commit_metadata: dict = field(default_factory=dict)  # the tested version's commitInfo
    context: dict = field(default_factory=dict)


# --- expectation helpers: a name (meta) and a sentence (description) for every expectation -----


def _named(expectation_cls, name: str, description: str, **kwargs):
    return expectation_cls(meta={"name": name}, description=description, **kwargs)


def _when(when: tuple[str, str, str] | None) -> tuple[dict, str]:
    """A row condition (column, "==" or "!=", value) as great-expectations kwargs and as words."""
    if when is None:
        return {}, ""
    column, op, value = when
    condition = Col(column) == value if op == "==" else Col(column) != value
    return {"row_condition": condition}, f" when {column} {op} {value}"


def not_null(*columns: str, when: tuple[str, str, str] | None = None) -> list:
    condition, suffix = _when(when)
    return [
        _named(
            gxe.ExpectColumnValuesToNotBeNull,
            f"{c} not null{suffix}",
            f"every row has a {c}{suffix}",
            column=c,
            **condition,
        )
        for c in columns
    ]


def unique(*columns: str, when: tuple[str, str, str] | None = None, why: str = "the table's grain") -> object:
    condition, suffix = _when(when)
    name = f"({', '.join(columns)}) unique{suffix}"
    description = f"no two rows share ({', '.join(columns)}){suffix}: {why}"
    if len(columns) == 1:
        return _named(gxe.ExpectColumnValuesToBeUnique, name, description, column=columns[0], **condition)
    return _named(gxe.ExpectCompoundColumnsToBeUnique, name, description, column_list=list(columns), **condition)


def in_set(column: str, values) -> object:
    values = sorted(values)
    return _named(
        gxe.ExpectColumnValuesToBeInSet,
        f"{column} in {values}",
        f"{column} is one of {values}",
        column=column,
        value_set=values,
    )


def at_least(column: str, minimum: float, *, strict: bool = False) -> object:
    op = ">" if strict else ">="
    return _named(
        gxe.ExpectColumnValuesToBeBetween,
        f"{column} {op} {minimum:g}",
        f"every non-null {column} is {op} {minimum:g}",
        column=column,
        min_value=minimum,
        strict_min=strict,
    )


def at_most(column: str, maximum: float) -> object:
    return _named(
        gxe.ExpectColumnValuesToBeBetween,
        f"{column} <= {maximum:g}",
        f"{column} is at most {maximum:g}",
        column=column,
        max_value=maximum,
    )


def holds(column: str, description: str, *, severity: str = "critical") -> object:
    """A derived boolean column, named for what it asserts, must be true on every row."""
    return _named(
        gxe.ExpectColumnValuesToBeInSet,
        column,
        description,
        column=column,
        value_set=[True],
        severity=severity,
    )


def not_after(earlier: str, later: str, description: str) -> object:
    return _named(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB,
        f"{earlier} <= {later}",
        description,
        column_A=later,
        column_B=earlier,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def equal(a: str, b: str, description: str) -> object:
    return _named(
        gxe.ExpectColumnPairValuesToBeEqual,
        f"{a} == {b}",
        description,
        column_A=a,
        column_B=b,
        ignore_row_if="either_value_is_missing",
    )


# --- derived columns --------------------------------------------------------------------------


def epoch_ms(series: pd.Series) -> pd.Series:
    return (series.dt.tz_convert("UTC").astype("int64") // _UNITS_PER_MS[series.dt.unit]).astype("int64")


_UNITS_PER_MS = {"s": 1 / 1000, "ms": 1, "us": 1000, "ns": 1_000_000}


def close(a: pd.Series, b: pd.Series, *, rel: float = REL_TOL) -> pd.Series:
    return (a - b).abs() <= rel * np.maximum(1.0, np.maximum(a.abs(), b.abs()))


def _dt_matches(frame: pd.DataFrame) -> pd.Series:
    return frame["dt"] == frame["event_time"].dt.strftime("%Y-%m-%d")


# --- suites -------------------------------------------------------------------------------------


def quarantine(inputs: Inputs) -> list[Check]:
    df = inputs.frame.copy()
    # A record without a payload (a Kafka record with no value, an empty one) is keyed by its
    # position in the source instead (contract.record_id): only the reason says so.
    # A duplicate event is keyed by its occurrence too (contract.duplicate_record_id).
    duplicates = (contract.REASON_DUPLICATE, contract.REASON_DUPLICATE_CONFLICT)
    df["record_id_is_md5_of_payload"] = [
        reason in duplicates or (r == hashlib.md5(p.encode()).hexdigest() if p else reason == contract.REASON_EMPTY)
        for r, p, reason in zip(df["record_id"], df["payload"], df["reason"], strict=True)
    ]
    df["payload_is_text_or_base64"] = [
        not p or not p.startswith(contract.BASE64_PREFIX) or reason == contract.REASON_NOT_UTF8
        for p, reason in zip(df["payload"], df["reason"], strict=True)
    ]
    fixed = [value for name, value in vars(contract).items() if name.startswith("REASON_")]
    per_field = (contract.reason_missing(""), contract.reason_wrong_type(""), contract.reason_invalid_text(""))
    pattern = (
        "^(?:"
        + "|".join(re.escape(r) for r in sorted(set(fixed)))
        + "".join(f"|{re.escape(prefix)}\\w+" for prefix in per_field)
        + ")$"
    )
    expectations = [
        *not_null("record_id", "source_stream", "reason"),
        unique("record_id"),
        in_set("source_stream", SOURCE_STREAMS),
        _named(
            gxe.ExpectColumnValuesToMatchRegex,
            "reason is a contract reason",
            "every reason is one of the contract's reason strings (lakehouse/contract.py)",
            column="reason",
            regex=pattern,
        ),
        holds(
            "record_id_is_md5_of_payload",
            "record_id is the md5 of the payload (content-derived), of its source position for an empty"
            " record, or of the payload's md5 and occurrence for a duplicate event",
        ),
        holds("payload_is_text_or_base64", "a payload kept as base64 is one whose bytes were not UTF-8"),
    ]
    return [Check(name="rows", frame=df, expectations=expectations, index=["record_id"])]


def late_events(inputs: Inputs) -> list[Check]:
    df = inputs.frame.copy()
    df["event_ms"] = epoch_ms(df["event_time"])
    df["watermark_ms"] = epoch_ms(df["watermark_at_arrival"])
    expectations = [
        *not_null("event_id", "event_type", "order_id", "event_time", "watermark_at_arrival", "payload"),
        unique("event_id"),
        in_set("event_type", contract.EVENT_TYPES),
        at_least("lateness_seconds", 0),
        not_after("event_ms", "watermark_ms", "a late event is at or behind the watermark it arrived under"),
    ]
    return [Check(name="rows", frame=df, expectations=expectations, index=["event_id"])]


def order_events(inputs: Inputs) -> list[Check]:
    df = inputs.frame.copy()
    df["dt_is_event_date"] = _dt_matches(df)
    expectations = [
        *not_null("event_id", "event_type", "order_id", "event_time", "dt", "is_late"),
        unique("event_id"),
        in_set("event_type", contract.EVENT_TYPES),
        in_set("currency", contract.CURRENCIES),
        at_least("amount", 0, strict=True),
        at_least("quantity", 1),
        holds("dt_is_event_date", "the dt partition is the UTC date of event_time"),
        # ORDER_PLACED may repeat: the contract keeps a copy naming an unknown customer in the log
        # (enrichment quarantines it), so uniqueness per order is checked for the other types.
        unique(
            "order_id",
            "event_type",
            when=("event_type", "!=", contract.ORDER_PLACED),
            why="each step happens once per order",
        ),
    ]
    for event_type, columns in REQUIRED_BY_TYPE.items():
        expectations += not_null(*columns, when=("event_type", "==", event_type))
    return [Check(name="rows", frame=df, expectations=expectations, index=["event_id"])]


def orders_enriched(inputs: Inputs) -> list[Check]:
    df = inputs.frame.copy()
    df["event_ms"] = epoch_ms(df["event_time"])
    df["dt_is_event_date"] = _dt_matches(df)
    converted = [
        contract.to_eur(a, c) if c in contract.RATES_PER_EUR else np.nan
        for a, c in zip(df["amount"], df["currency"], strict=True)
    ]
    df["amount_eur_is_converted_amount"] = (
        df["amount_eur"] - pd.Series(converted, index=df.index)
    ).abs() <= 0.005 + 1e-9
    expectations = [
        *not_null(*tables.ORDERS_ENRICHED.column_names()),
        unique("event_id"),
        unique("order_id", why="one enriched row per order"),
        in_set("currency", contract.CURRENCIES),
        at_least("amount", 0, strict=True),
        at_least("amount_eur", 0, strict=True),
        at_least("unit_price_eur", 0, strict=True),
        at_least("quantity", 1),
        holds("dt_is_event_date", "the dt partition is the UTC date of event_time"),
        holds(
            "amount_eur_is_converted_amount",
            "amount_eur is amount converted at the contract's fixed rate, rounded to cents",
        ),
        not_after("customer_version_ms", "event_ms", "the customer version joined is not newer than the order"),
        not_after("product_version_ms", "event_ms", "the product version joined is not newer than the order"),
    ]
    checks = [Check(name="rows", frame=df, expectations=expectations, index=["event_id"])]
    checks += _version_consistency(df, "customer", ("region", "segment"))
    checks += _version_consistency(df, "product", ("category", "unit_price_eur"))
    history = dimension_history(inputs.settings.input_dir)
    if history is None:
        inputs.context.setdefault("skipped", []).append(
            f"dimension_history: no generated dimension files under {inputs.settings.input_dir}"
        )
    else:
        checks.append(_against_history(df, history))
    return checks


def _version_consistency(df: pd.DataFrame, dim: str, attributes: tuple[str, ...]) -> list[Check]:
    key, version = f"{dim}_id", f"{dim}_version_ms"
    versions = df[[key, version, *attributes]].drop_duplicates()
    one_version = Check(
        name=f"{dim}_versions",
        frame=versions,
        expectations=[unique(key, version, why=f"one {dim} version has one set of attributes {list(attributes)}")],
        index=[key, version],
    )
    ordered = df[[key, "event_ms", "event_id", version]].sort_values([key, "event_ms", "event_id"])
    ordered[f"previous_{version}"] = ordered.groupby(key)[version].shift(1)
    monotonic = Check(
        name=f"{dim}_version_order",
        frame=ordered,
        expectations=[
            not_after(
                f"previous_{version}",
                version,
                f"a later order never joins an older {dim} version than an earlier order of the same {dim}",
            )
        ],
        index=["event_id"],
    )
    return [one_version, monotonic]


def dimension_history(input_dir: Path) -> dict[str, pd.DataFrame] | None:
    """The generated Debezium streams as version tables (key, valid_from, deleted, attributes), or None."""
    files = {
        "customer": input_dir / "customers" / "customers.jsonl",
        "product": input_dir / "products" / "products.jsonl",
    }
    if not all(path.exists() for path in files.values()):
        return None
    out = {}
    for dim, path in files.items():
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            envelope = json.loads(line)
            if envelope["op"] == "d":
                before = envelope["before"]
                rows.append({f"{dim}_id": before[f"{dim}_id"], "valid_from": envelope["ts_ms"], "deleted": True})
            else:
                after = envelope["after"]
                rows.append({**after, "valid_from": after["updated_at"], "deleted": False})
        history = pd.DataFrame(rows).sort_values(["valid_from", f"{dim}_id"], kind="mergesort")
        out[dim] = history.reset_index(drop=True)
    return out


def _against_history(df: pd.DataFrame, history: dict[str, pd.DataFrame]) -> Check:
    frame = df[
        ["event_id", "event_ms", "customer_id", "customer_version_ms", "region", "segment"]
        + ["product_id", "product_version_ms", "category", "unit_price_eur"]
    ].sort_values("event_ms", kind="mergesort")
    for dim, attributes in (
        ("customer", {"region": "region", "segment": "segment"}),
        ("product", {"category": "category", "price": "unit_price_eur"}),
    ):
        versions = history[dim][[f"{dim}_id", "valid_from", "deleted", "updated_at", *attributes]].rename(
            columns={"updated_at": f"expected_{dim}_version_ms", **{a: f"expected_{c}" for a, c in attributes.items()}}
        )
        frame = pd.merge_asof(
            frame,
            versions.astype({"valid_from": "int64"}),
            left_on="event_ms",
            right_on="valid_from",
            by=f"{dim}_id",
            direction="backward",
            allow_exact_matches=True,
        ).drop(columns="valid_from")
        frame[f"{dim}_exists_at_event_time"] = frame["deleted"].eq(False)
        frame[f"{dim}_version_is_the_one_valid_at_event_time"] = (
            frame[f"{dim}_version_ms"] == frame[f"expected_{dim}_version_ms"]
        )
        frame[f"{dim}_attributes_match_that_version"] = np.logical_and.reduce(
            [frame[c] == frame[f"expected_{c}"] for c in attributes.values()]
        )
        frame = frame.drop(columns="deleted")
    expectations = []
    for dim in ("customer", "product"):
        expectations += [
            holds(f"{dim}_exists_at_event_time", f"the {dim} exists (created, not deleted) at the order's event time"),
            holds(
                f"{dim}_version_is_the_one_valid_at_event_time",
                f"{dim}_version_ms is the latest {dim} version not after the event time (the temporal join)",
            ),
            holds(
                f"{dim}_attributes_match_that_version",
                f"the {dim} attributes copied onto the order are that version's",
            ),
        ]
    return Check(name="dimension_history", frame=frame, expectations=expectations, index=["event_id"])


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


SUITES: dict[str, Callable[[Inputs], list[Check]]] = {
    tables.QUARANTINE.name: quarantine,
    tables.LATE_EVENTS.name: late_events,
    tables.ORDER_EVENTS.name: order_events,
    tables.ORDERS_ENRICHED.name: orders_enriched,
    tables.METRICS_1M.name: metrics("1m"),
    tables.METRICS_5M.name: metrics("5m"),
    tables.METRICS_1H.name: metrics("1h"),
    tables.ANOMALIES.name: anomalies,
    read_model.ORDERS_CURRENT.name: orders_current,
}
