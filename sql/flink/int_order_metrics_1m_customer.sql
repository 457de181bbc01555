-- Intermediate: the cascade's base level, 1-minute partial aggregates per customer. Keeping the
-- customer in the grain lets the 5m and 1h levels count distinct customers exactly while still
-- cascading from 1-minute results instead of re-windowing raw orders.
-- Grain: one row per minute, region, category and customer. Key: window_start, region, category, customer_id.
select
    window_start,
    window_end,
    window_time,
    region,
    category,
    customer_id,
    count(*) as order_count,
    sum(amount_eur) as revenue_eur,
    min(amount_eur) as min_amount_eur,
    max(amount_eur) as max_amount_eur
from table(tumble(table int_orders_enriched_matched, descriptor(event_time), interval '1' minute))
group by window_start, window_end, window_time, region, category, customer_id
