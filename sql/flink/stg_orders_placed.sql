-- Staging: valid, on-time ORDER_PLACED events with the amount converted to EUR.
-- Grain: one row per order. Key: event_id. Event time: event_time (the rowtime of the source).
select
    event_id,
    order_id,
    customer_id,
    product_id,
    quantity,
    amount,
    currency,
    to_eur(amount, currency) as amount_eur,
    payload,
    record_id,
    event_time
from int_order_events_occurrence
where occurrence = 1
  and not is_late
  and event_type = {{order_placed}}
