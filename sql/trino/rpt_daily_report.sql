-- Report: the daily report: orders, revenue, average order value, customers and anomalies per day and region.
-- Grain: one row per day (UTC date of event time) and region with orders or anomalies. Key: day, region.
-- Sources: silver.orders_enriched (orders, valid-at-event-time region) and gold.anomalies (rule
-- firings, dated by their window start). The batch job lakehouse/query/batch_report.py computes the same
-- rows with polars into gold.daily_report; the integration tests check that both agree.
with orders as (
    select
        date(event_time at time zone 'UTC') as day,
        region,
        amount_eur,
        customer_id
    from silver.orders_enriched
),

orders_by_day as (
    select
        day,
        region,
        count(*) as orders,
        sum(amount_eur) as revenue_eur,
        count(distinct customer_id) as customers
    from orders
    group by day, region
),

anomalies_by_day as (
    select
        date(window_start at time zone 'UTC') as day,
        region,
        count(*) as anomalies
    from gold.anomalies
    group by date(window_start at time zone 'UTC'), region
)

select
    coalesce(orders_by_day.day, anomalies_by_day.day) as day,
    coalesce(orders_by_day.region, anomalies_by_day.region) as region,
    coalesce(orders_by_day.orders, 0) as orders,
    coalesce(orders_by_day.revenue_eur, 0e0) as revenue_eur,
    orders_by_day.revenue_eur / orders_by_day.orders as avg_order_value_eur,
    coalesce(orders_by_day.customers, 0) as customers,
    coalesce(anomalies_by_day.anomalies, 0) as anomalies
from orders_by_day
full outer join anomalies_by_day
    on anomalies_by_day.day = orders_by_day.day
    and anomalies_by_day.region = orders_by_day.region
order by day, region
