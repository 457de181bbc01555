-- Intermediate: each order joined to the customer and product versions valid at its event time
-- (event-time temporal joins on the CDC versioned views dim_customers and dim_products). Left joins,
-- so that an order whose customer or product does not exist at that time is kept and can be
-- quarantined with a reason; a version that is a delete counts as no customer (or product).
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
    case when not c.is_deleted then c.customer_id end as matched_customer_id,
    c.region,
    c.segment,
    c.updated_at as customer_version_ms,
    case when not p.is_deleted then p.product_id end as matched_product_id,
    p.category,
    p.price as unit_price_eur,
    p.updated_at as product_version_ms
from stg_orders_placed as o
left join dim_customers for system_time as of o.event_time as c
    on o.customer_id = c.customer_id
left join dim_products for system_time as of o.event_time as p
    on o.product_id = p.product_id
