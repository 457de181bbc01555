-- Intermediate: enriched orders whose customer and product both existed at the order's event time.
-- Grain: one row per order. Key: event_id. Event time: event_time.
select *
from int_orders_enriched
where matched_customer_id is not null
  and matched_product_id is not null
