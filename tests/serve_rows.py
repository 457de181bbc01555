"""Rows of gold.order_metrics_1m as the serving tests write them (to the speed topic, the table or
the store): one customer per order, so the average and the distinct count follow from the rest."""

from __future__ import annotations


def metric_row(
    *, start, end, region: str, category: str, orders: int, revenue: float, min_amount: float, max_amount: float
) -> dict:
    return {
        "window_start": start,
        "window_end": end,
        "region": region,
        "category": category,
        "order_count": orders,
        "revenue_eur": revenue,
        "avg_order_value_eur": revenue / orders,
        "distinct_customers": orders,
        "min_amount_eur": min_amount,
        "max_amount_eur": max_amount,
    }
