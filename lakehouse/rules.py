"""Anomaly rules: loaded from a TOML file and checked before any job starts."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

LEVELS = ("1m", "5m", "1h")
METRICS = (
    "order_count",
    "revenue_eur",
    "avg_order_value_eur",
    "distinct_customers",
    "min_amount_eur",
    "max_amount_eur",
)
OPS = (">", ">=", "<", "<=")


@dataclass(frozen=True, kw_only=True)
class StaticRule:
    id: str
    level: str
    metric: str
    op: str
    threshold: float

    def fires(self, value: float) -> bool:
        return {
            ">": value > self.threshold,
            ">=": value >= self.threshold,
            "<": value < self.threshold,
            "<=": value <= self.threshold,
        }[self.op]


@dataclass(frozen=True, kw_only=True)
class AdaptiveRule:
    id: str
    level: str
    metric: str
    k: float
    trailing: int
    min_history: int


@dataclass(frozen=True, kw_only=True)
class Rules:
    static: tuple[StaticRule, ...]
    adaptive: tuple[AdaptiveRule, ...]


def load(path: Path) -> Rules:
    """Parse and validate a rules file; a bad rule is an error naming the rule and the field."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    unknown = set(data) - {"static", "adaptive"}
    if unknown:
        raise ValueError(f"{path}: unknown sections {sorted(unknown)}; expected [[static]] and [[adaptive]]")
    static = tuple(_static(path, r) for r in data.get("static", []))
    adaptive = tuple(_adaptive(path, r) for r in data.get("adaptive", []))
    ids = [r.id for r in (*static, *adaptive)]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate rule ids {duplicates}")
    return Rules(static=static, adaptive=adaptive)


def _common(path: Path, raw: dict) -> tuple[str, str, str]:
    rule_id = str(raw.get("id", ""))
    if not rule_id:
        raise ValueError(f"{path}: a rule has no id: {raw}")
    if raw.get("level") not in LEVELS:
        raise ValueError(f"{path}: rule {rule_id}: level must be one of {LEVELS}, got {raw.get('level')!r}")
    if raw.get("metric") not in METRICS:
        raise ValueError(f"{path}: rule {rule_id}: metric must be one of {METRICS}, got {raw.get('metric')!r}")
    return rule_id, raw["level"], raw["metric"]


def _static(path: Path, raw: dict) -> StaticRule:
    rule_id, level, metric = _common(path, raw)
    if raw.get("op") not in OPS:
        raise ValueError(f"{path}: rule {rule_id}: op must be one of {OPS}, got {raw.get('op')!r}")
    return StaticRule(id=rule_id, level=level, metric=metric, op=raw["op"], threshold=float(raw["threshold"]))


def _adaptive(path: Path, raw: dict) -> AdaptiveRule:
    rule_id, level, metric = _common(path, raw)
    trailing, min_history = int(raw.get("trailing", 10)), int(raw.get("min_history", 5))
    if not 1 <= min_history <= trailing:
        raise ValueError(f"{path}: rule {rule_id}: need 1 <= min_history <= trailing")
    return AdaptiveRule(
        id=rule_id, level=level, metric=metric, k=float(raw["k"]), trailing=trailing, min_history=min_history
    )
