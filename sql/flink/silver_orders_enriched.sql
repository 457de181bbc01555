-- Silver: orders with the customer and product versions valid at their event time.
-- Grain: one row per order (ORDER_PLACED event). Key: event_id. Partitioned by dt (event date, UTC).
select
    event_id,
    order_id,
    cast(event_time as timestamp(3)) as event_time,
    customer_id,
    product_id,
    quantity,
    amount,
    currency,
    amount_eur,
    region,
    segment,
    customer_version_ms,
    category,
    unit_price_eur,
    product_version_ms,
    date_format(event_time, 'yyyy-MM-dd') as dt
from int_orders_enriched_matched
