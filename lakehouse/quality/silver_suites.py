"""The silver suites: the order-event log (types, currencies, required fields per type) and the
enriched orders (EUR conversion, and the dimension versions each order joined, checked against the
generated change streams when they are at hand)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lakehouse import contract
from lakehouse.lake import tables
from lakehouse.quality.expectations import (
    Check,
    Inputs,
    at_least,
    dt_matches,
    epoch_ms,
    holds,
    in_set,
    not_after,
    not_null,
    unique,
)

# event type -> the columns a valid event of that type carries (the contract does not require a
# DELIVERED signature, so DELIVERED has none)
REQUIRED_BY_TYPE = {t: contract.required_columns(t) for t in contract.EVENT_TYPES if contract.required_columns(t)}


def order_events(inputs: Inputs) -> list[Check]:
    df = inputs.frame.copy()
    df["dt_is_event_date"] = dt_matches(df)
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
    df["dt_is_event_date"] = dt_matches(df)
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
