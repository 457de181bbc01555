-- Report: orders and revenue per hour and region over the last 24 hours of data.
-- Grain: one row per hour and region that had orders. Key: hour, region.
-- "Last 24 hours" ends at the latest order in the data, not at the wall clock (the generator writes
-- event time on 2026-01-01): the hour holding the latest order and the 23 hours before it.
-- Source: gold.order_metrics_1h (one row per hour, region and category), summed over categories.
with latest as (
    select max(window_start) as last_hour
    from gold.order_metrics_1h
),

last_24_hours as (
    select
        metrics.window_start,
        metrics.region,
        metrics.order_count,
        metrics.revenue_eur
    from gold.order_metrics_1h as metrics
    cross join latest
    where metrics.window_start > latest.last_hour - interval '24' hour
),

by_hour_and_region as (
    select
        window_start as hour,
        region,
        sum(order_count) as orders,
        sum(revenue_eur) as revenue_eur
    from last_24_hours
    group by window_start, region
)

select
    hour,
    region,
    orders,
    revenue_eur,
    revenue_eur / orders as avg_order_value_eur
from by_hour_and_region
order by hour, region
