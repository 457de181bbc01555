"""Anomalies: static thresholds and an adaptive (trailing mean + k sigma) rule over the window
metrics, one output row per firing. Rules come from config/anomaly_rules.toml.

transform() is a function of the window metrics per level (jobs/orders_metrics.py's ``WINDOWS``),
built with Table API expressions: it reads no registered name.
"""

from __future__ import annotations

from collections.abc import Mapping

from lakehouse.lake import tables
from lakehouse.rules import AdaptiveRule, Rules, StaticRule


def transform(windows: Mapping[str, object], rules: Rules) -> dict:
    """The table for gold.anomalies: one row per firing of every rule.

    ``windows``: level ("1m", "5m", "1h") -> window metrics with window_start, window_end, region,
    category, the metrics and window_time (the rowtime; batch mode: a timestamp)."""
    parts = [_static(windows[rule.level], rule) for rule in rules.static]
    parts += [_adaptive(windows[rule.level], rule) for rule in rules.adaptive]
    if not parts:
        raise ValueError("no anomaly rules configured")
    result = parts[0]
    for part in parts[1:]:
        result = result.union_all(part)
    return {tables.ANOMALIES.name: result}


def _firing(table, rule_id: str, kind: str, level: str, metric: str, threshold):
    from pyflink.table import DataTypes
    from pyflink.table.expressions import col, lit

    return table.select(
        lit(rule_id).alias("rule_id"),
        lit(kind).alias("rule_kind"),
        lit(level).alias("level"),
        col("window_start").cast(DataTypes.TIMESTAMP(3)).alias("window_start"),
        col("window_end").cast(DataTypes.TIMESTAMP(3)).alias("window_end"),
        col("region"),
        col("category"),
        lit(metric).alias("metric"),
        col(metric).cast(DataTypes.DOUBLE()).alias("observed"),
        threshold.cast(DataTypes.DOUBLE()).alias("threshold"),
    )


def _static(metrics, rule: StaticRule):
    from pyflink.table.expressions import col, lit

    value, limit = col(rule.metric), lit(rule.threshold)
    condition = {">": value > limit, ">=": value >= limit, "<": value < limit, "<=": value <= limit}[rule.op]
    return _firing(metrics.filter(condition), rule.id, "static", rule.level, rule.metric, lit(rule.threshold))


def _adaptive(metrics, rule: AdaptiveRule):
    """Trailing statistics from a ROWS over-window that includes the current row, minus it.

    Flink's over-windows end at CURRENT ROW, so the previous windows' sum, sum of squares and count
    are the window's totals less the current row's own contribution.
    """
    from pyflink.table import DataTypes
    from pyflink.table.expressions import col, if_then_else, lit, row_interval
    from pyflink.table.window import Over

    x = col(rule.metric).cast(DataTypes.DOUBLE())
    window = (
        Over.partition_by(col("region"), col("category"))
        .order_by(col("window_time"))
        .preceding(row_interval(rule.trailing))
        .alias("w")
    )
    stats = metrics.over_window(window).select(
        col("window_start"),
        col("window_end"),
        col("region"),
        col("category"),
        x.alias(rule.metric),
        (x.sum.over(col("w")) - x).alias("prev_sum"),
        ((x * x).sum.over(col("w")) - x * x).alias("prev_sumsq"),
        (x.count.over(col("w")) - 1).alias("prev_n"),
    )
    mean = col("prev_sum") / col("prev_n").cast(DataTypes.DOUBLE())
    variance = col("prev_sumsq") / col("prev_n").cast(DataTypes.DOUBLE()) - mean * mean
    std = if_then_else(variance > 0, variance.sqrt, lit(0.0))
    with_threshold = stats.filter(col("prev_n") >= rule.min_history).add_columns(
        (mean + lit(rule.k) * std).alias("limit")
    )
    firing = with_threshold.filter(col(rule.metric) > col("limit"))
    return _firing(firing, rule.id, "adaptive", rule.level, rule.metric, col("limit"))
