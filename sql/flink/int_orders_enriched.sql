-- Intermediate: each order joined to the customer and product versions valid at its event time
-- (event-time temporal joins on the CDC tables). Left joins, so that an order whose customer or
-- product does not exist at that time is kept and can be quarantined with a reason.
-- Grain: one row per order. Key: event_id.
select
    o.event_id,
    o.order_id,
    o.customer_id,
    o.product_id,
    o.quantity,
    o.amount,
    o.currency,
    o.amount_eur,
    o.payload,
    o.record_id,
    o.event_time,
    c.customer_id as matched_customer_id,
    c.region,
    c.segment,
    c.updated_at as customer_version_ms,
    p.product_id as matched_product_id,
    p.category,
    p.price as unit_price_eur,
    p.updated_at as product_version_ms
from stg_orders_placed as o
left join src_customers for system_time as of o.event_time as c
    on o.customer_id = c.customer_id
left join src_products for system_time as of o.event_time as p
    on o.product_id = p.product_id
