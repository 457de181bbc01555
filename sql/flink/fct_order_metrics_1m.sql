-- Gold: 1-minute order metrics, rolled up from the per-customer 1-minute partials.
-- Grain: one row per minute, region and category (only where orders exist). Key: window_start, region, category.
select
    window_start,
    window_end,
    window_time,
    region,
    category,
    sum(order_count) as order_count,
    sum(revenue_eur) as revenue_eur,
    sum(revenue_eur) / sum(order_count) as avg_order_value_eur,
    count(*) as distinct_customers,
    min(min_amount_eur) as min_amount_eur,
    max(max_amount_eur) as max_amount_eur
from int_order_metrics_1m_customer
group by window_start, window_end, window_time, region, category
