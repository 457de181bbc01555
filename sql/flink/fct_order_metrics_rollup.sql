-- Gold: order metrics for a coarser tumbling window ({{window_minutes}} minutes), cascaded from the
-- per-customer 1-minute partials. The 1-minute window columns are renamed first: Flink rejects a
-- second TUMBLE over a relation that already has window_start and window_end.
-- distinct_customers counts distinct customers over the window (a set per window in state).
-- Grain: one row per window, region and category. Key: window_start, region, category.
with minute_partials as (
    select
        window_time as minute_time,
        region,
        category,
        customer_id,
        order_count,
        revenue_eur,
        min_amount_eur,
        max_amount_eur
    from int_order_metrics_1m_customer
)
select
    window_start,
    window_end,
    window_time,
    region,
    category,
    sum(order_count) as order_count,
    sum(revenue_eur) as revenue_eur,
    sum(revenue_eur) / sum(order_count) as avg_order_value_eur,
    count(distinct customer_id) as distinct_customers,
    min(min_amount_eur) as min_amount_eur,
    max(max_amount_eur) as max_amount_eur
from table(tumble(table minute_partials, descriptor(minute_time), interval '{{window_minutes}}' minute))
group by window_start, window_end, window_time, region, category
