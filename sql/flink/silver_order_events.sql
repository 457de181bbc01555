-- Silver: every valid order event (the first with its event_id: int_order_events_occurrence),
-- late ones included (flagged), as typed columns.
-- Grain: one row per event. Key: event_id. Partitioned by dt (event date, UTC).
select
    event_id,
    event_type,
    order_id,
    cast(event_time as timestamp(3)) as event_time,
    customer_id,
    product_id,
    quantity,
    amount,
    currency,
    payment_id,
    warehouse,
    carrier,
    signature,
    cancel_reason,
    is_late,
    date_format(event_time, 'yyyy-MM-dd') as dt
from int_order_events_occurrence
where occurrence = 1
