"""An independent, pure-Python model of what the pipeline must write, computed from the
generator's records and their ground truth (never from the pipeline's SQL).

Rows are plain dicts keyed like the Delta tables; timestamps are UTC datetimes.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from lakehouse import contract
from lakehouse import rules as rules_mod
from lakehouse.lake import tables
from lakehouse.sources.generator import Dataset
from tests.reference_cdc import read_change
from tests.reference_contract import check

LEVEL_MS = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000}


def ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def amount_eur(amount: float, currency: str, version: int) -> float:
    """The EUR amount an order must get under a currency conversion version: 1 is the drill's
    deliberate bug (multiplied by the rate, tests/drill_bugs.py), 2 the fix (divided)."""
    rate = contract.RATES_PER_EUR[currency]
    return round(amount * rate if version == 1 else amount / rate, 2)


class Model:
    """Expected content of every table, keyed by the table's key tuple.

    ``currency_version`` is the currency UDF version every order was converted with, or a function
    of the event giving it per order (a drill that restores fixed code mid-stream).
    ``metrics_version`` 1 counts customer-minutes as the 5m and 1h distinct_customers (the bug of
    the incompatible-fix drill, tests/drill_bugs.py); 2 counts distinct customers.
    ``order_positions`` gives an order record's position in its source (the quarantine key of a
    record without a payload); ``max_record_bytes`` the contract's size limit the job ran with.
    """

    def __init__(
        self,
        dataset: Dataset,
        rules: rules_mod.Rules,
        *,
        currency_version: int | Callable[[dict], int] = 2,
        metrics_version: int = 2,
        cdc_envelope: str = "auto",
        order_positions: Callable[[object], str] = lambda _record: "",
        max_record_bytes: int = contract.MAX_RECORD_BYTES,
    ) -> None:
        self.dataset = dataset
        self.rules = rules
        self.currency_version = currency_version if callable(currency_version) else (lambda _e: currency_version)
        self.metrics_version = metrics_version
        self.order_positions = order_positions
        self.max_record_bytes = max_record_bytes
        self.tables: dict[str, dict[tuple, dict]] = {spec.name: {} for spec in tables.ALL}
        self.versions = {
            "customer_id": self._versions(dataset.customers, "customers", cdc_envelope),
            "product_id": self._versions(dataset.products, "products", cdc_envelope),
        }
        self._events()
        for level in LEVEL_MS:
            self._metrics(level)
        self._anomalies()

    # --- bronze and silver ---------------------------------------------------------------
    def _put(self, spec: tables.TableSpec, row: dict) -> None:
        self.tables[spec.name][tuple(row[k] for k in spec.key)] = row

    def _events(self) -> None:
        # Per event_id, among contract-valid events in arrival order: the first record_id, the count.
        self._first_record: dict[str, str] = {}
        self._occurrences: dict[str, int] = {}
        for record in self.dataset.orders:
            raw = record.value.encode() if isinstance(record.value, str) else record.value
            verdict = check(
                raw,
                arrival_ms=record.arrival_ms,
                position=self.order_positions(record),
                max_record_bytes=self.max_record_bytes,
            )
            contract_valid = "event" in record.expect or (
                record.expect.get("quarantine") == contract.REASON_UNKNOWN_CUSTOMER
            )
            if contract_valid and self._duplicate(verdict, record):
                continue
            if "quarantine" in record.expect:
                reason = record.expect["quarantine"]
                self._put(
                    tables.QUARANTINE,
                    {
                        "record_id": verdict.record_id,
                        "source_stream": "order-events",
                        "reason": reason,
                        "payload": verdict.payload,
                        "event_time": None if verdict.event_time_ms is None else ts(verdict.event_time_ms),
                    },
                )
                if reason != contract.REASON_UNKNOWN_CUSTOMER:
                    continue
                # Contract-valid, so it stays in the event log; only enrichment rejects it.
                self._log_event(dict(verdict.event), record, late=False)
                continue
            event = record.expect["event"]
            late = bool(record.expect.get("late"))
            self._log_event(event, record, late=late)
            if late:
                self._put(
                    tables.LATE_EVENTS,
                    {
                        "event_id": event["event_id"],
                        "event_type": event["event_type"],
                        "order_id": event["order_id"],
                        "event_time": ts(event["ts_ms"]),
                        "payload": verdict.payload,
                    },
                )
            elif event["event_type"] == "ORDER_PLACED":
                self._enrich(event, verdict.payload)

    def _duplicate(self, verdict, record) -> bool:
        """Whether a contract-valid event repeats an event_id seen before (then it is quarantined)."""
        event_id = verdict.event["event_id"]
        first = self._first_record.setdefault(event_id, verdict.record_id)
        occurrence = self._occurrences[event_id] = self._occurrences.get(event_id, 0) + 1
        if occurrence == 1:
            return False
        self._put(
            tables.QUARANTINE,
            {
                "record_id": contract.duplicate_record_id(verdict.record_id, occurrence),
                "source_stream": "order-events",
                "reason": contract.REASON_DUPLICATE
                if verdict.record_id == first
                else contract.REASON_DUPLICATE_CONFLICT,
                "payload": verdict.payload,
                "event_time": ts(verdict.event["ts_ms"]),
            },
        )
        return True

    def _log_event(self, event: dict, record, *, late: bool) -> None:
        self._put(
            tables.ORDER_EVENTS,
            {
                "event_id": event["event_id"],
                "event_type": event["event_type"],
                "order_id": event["order_id"],
                "event_time": ts(event["ts_ms"]),
                "customer_id": event.get("customer_id"),
                "product_id": event.get("product_id"),
                "quantity": event.get("quantity"),
                "amount": event.get("amount"),
                "currency": event.get("currency"),
                "payment_id": event.get("payment_id"),
                "warehouse": event.get("warehouse"),
                "carrier": event.get("carrier"),
                "signature": event.get("signature"),
                "cancel_reason": event.get("reason"),
                "is_late": late,
                "dt": ts(event["ts_ms"]).strftime("%Y-%m-%d"),
            },
        )

    def _enrich(self, event: dict, payload: str) -> None:
        customer = self._version("customer_id", event["customer_id"], event["ts_ms"])
        product = self._version("product_id", event["product_id"], event["ts_ms"])
        if customer is None or product is None:
            # A deleted (or never created) customer or product: enrichment quarantines the order.
            self._put(
                tables.QUARANTINE,
                {
                    "record_id": hashlib.md5(payload.encode()).hexdigest(),
                    "source_stream": "order-events",
                    "reason": contract.REASON_UNKNOWN_CUSTOMER if customer is None else contract.REASON_UNKNOWN_PRODUCT,
                    "payload": payload,
                    "event_time": ts(event["ts_ms"]),
                },
            )
            return
        self._put(
            tables.ORDERS_ENRICHED,
            {
                "event_id": event["event_id"],
                "order_id": event["order_id"],
                "event_time": ts(event["ts_ms"]),
                "customer_id": event["customer_id"],
                "product_id": event["product_id"],
                "quantity": event["quantity"],
                "amount": event["amount"],
                "currency": event["currency"],
                "amount_eur": amount_eur(event["amount"], event["currency"], self.currency_version(event)),
                "region": customer["region"],
                "segment": customer["segment"],
                "customer_version_ms": customer["updated_at"],
                "category": product["category"],
                "unit_price_eur": product["price"],
                "product_version_ms": product["updated_at"],
                "dt": ts(event["ts_ms"]).strftime("%Y-%m-%d"),
            },
        )

    def _version(self, key: str, value: str, at_ms: int) -> dict | None:
        """The version valid at ``at_ms``, or None when there is none or it is a delete."""
        times, rows = self.versions[key].get(value, ([], []))
        i = bisect_right(times, at_ms)
        return rows[i - 1] if i and not rows[i - 1]["is_deleted"] else None

    def _versions(self, records, stream: str, envelope: str) -> dict[str, tuple[list[int], list[dict]]]:
        """Per key, the version times and rows of a change stream (a delete is a version too); change
        records the job cannot use go to the quarantine."""
        history: dict[str, dict[int, dict]] = defaultdict(dict)
        key = "customer_id" if stream == "customers" else "product_id"
        for record in records:
            kind, result = read_change(record.value, stream, arrival_ms=record.arrival_ms, envelope=envelope)
            if kind == "reject":
                self._put(
                    tables.QUARANTINE,
                    {
                        "record_id": hashlib.md5(record.value.encode()).hexdigest(),
                        "source_stream": stream,
                        "reason": result,
                        "payload": record.value,
                        "event_time": None,
                    },
                )
            elif kind == "change":
                # Arrival order decides between two changes of one key at the same time (the LSN order).
                history[result[key]][result["updated_at"]] = result
        out = {}
        for value, by_time in history.items():
            times = sorted(by_time)
            out[value] = (times, [by_time[t] for t in times])
        return out

    # --- gold -----------------------------------------------------------------------------
    def _metrics(self, level: str) -> None:
        size = LEVEL_MS[level]
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for row in self.tables[tables.ORDERS_ENRICHED.name].values():
            ms = int(row["event_time"].timestamp() * 1000)
            groups[(ms - ms % size, row["region"], row["category"])].append(row)
        spec = {"1m": tables.METRICS_1M, "5m": tables.METRICS_5M, "1h": tables.METRICS_1H}[level]
        for (start, region, category), rows in groups.items():
            amounts = [r["amount_eur"] for r in rows]
            revenue = math.fsum(amounts)
            self._put(
                spec,
                {
                    "window_start": ts(start),
                    "window_end": ts(start + size),
                    "region": region,
                    "category": category,
                    "order_count": len(rows),
                    "revenue_eur": revenue,
                    "avg_order_value_eur": revenue / len(rows),
                    "distinct_customers": self._distinct_customers(level, rows),
                    "min_amount_eur": min(amounts),
                    "max_amount_eur": max(amounts),
                },
            )

    def _distinct_customers(self, level: str, rows: list[dict]) -> int:
        if self.metrics_version == 1 and level != "1m":
            minute = LEVEL_MS["1m"]
            return len({(int(r["event_time"].timestamp() * 1000) // minute, r["customer_id"]) for r in rows})
        return len({r["customer_id"] for r in rows})

    def _anomalies(self) -> None:
        by_level = {"1m": tables.METRICS_1M, "5m": tables.METRICS_5M, "1h": tables.METRICS_1H}
        for rule in self.rules.static:
            for row in self.tables[by_level[rule.level].name].values():
                if rule.fires(float(row[rule.metric])):
                    self._fire(rule.id, "static", rule.level, rule.metric, row, rule.threshold)
        for rule in self.rules.adaptive:
            series: dict[tuple, list[dict]] = defaultdict(list)
            for row in self.tables[by_level[rule.level].name].values():
                series[(row["region"], row["category"])].append(row)
            for rows in series.values():
                rows.sort(key=lambda r: r["window_start"])
                for i, row in enumerate(rows):
                    previous = [float(r[rule.metric]) for r in rows[max(0, i - rule.trailing) : i]]
                    if len(previous) < rule.min_history:
                        continue
                    mean = sum(previous) / len(previous)
                    variance = sum(v * v for v in previous) / len(previous) - mean * mean
                    limit = mean + rule.k * math.sqrt(max(variance, 0.0))
                    if float(row[rule.metric]) > limit:
                        self._fire(rule.id, "adaptive", rule.level, rule.metric, row, limit)

    def _fire(self, rule_id: str, kind: str, level: str, metric: str, row: dict, threshold: float) -> None:
        self._put(
            tables.ANOMALIES,
            {
                "rule_id": rule_id,
                "rule_kind": kind,
                "level": level,
                "window_start": row["window_start"],
                "window_end": row["window_end"],
                "region": row["region"],
                "category": row["category"],
                "metric": metric,
                "observed": float(row[metric]),
                "threshold": float(threshold),
            },
        )
