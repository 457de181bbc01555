-- Staging: every order-event message parsed and checked against the contract (lakehouse/contract.py).
-- Grain: one row per message. Key: record_id.
-- reason is null for a valid event; otherwise the first broken rule, in the contract's order.
-- is_late marks valid events that arrive at or behind the current watermark: event-time operators
-- (the temporal join and the windows) would drop them, so they are routed to bronze.late_events.
-- The payload is parsed once, by json_object_fields (udfs/java): JSON_VALUE would parse it again
-- for every use of every field, since the planner inlines these columns into each rule below.
with parsed as (
    select
        s.payload,
        md5(s.payload) as record_id,
        f.is_json,
        f.event_id,
        f.event_type,
        f.order_id,
        f.ts_raw,
        try_cast(f.ts_raw as bigint) as ts_ms,
        s.arrival_time,
        s.event_time,
        current_watermark(s.event_time) as watermark_at_arrival,
        f.customer_id,
        f.product_id,
        f.quantity_raw,
        f.amount_raw,
        f.currency,
        f.payment_id,
        f.warehouse,
        f.carrier,
        f.signature,
        f.cancel_reason
    from src_order_events as s
    cross join lateral table(json_object_fields(
        s.payload,
        'event_id,event_type,order_id,ts_ms,customer_id,product_id,quantity,amount,currency,payment_id,warehouse,carrier,signature,reason'
    )) as f(
        is_json, event_id, event_type, order_id, ts_raw, customer_id, product_id, quantity_raw, amount_raw,
        currency, payment_id, warehouse, carrier, signature, cancel_reason
    )
),
checked as (
    select
        parsed.*,
        try_cast(quantity_raw as int) as quantity,
        try_cast(amount_raw as double) as amount,
        case
            when not is_json then 'invalid JSON'
            when event_id is null then 'missing field: event_id'
            when event_type is null then 'missing field: event_type'
            when order_id is null then 'missing field: order_id'
            when ts_raw is null then 'missing field: ts_ms'
            when ts_ms is null then 'wrong type: ts_ms'
            when event_type not in (
                'ORDER_PLACED', 'PAYMENT_RECEIVED', 'STOCK_RESERVED', 'SHIPPED', 'DELIVERED', 'CANCELLED'
            ) then 'unknown event_type'
            when to_timestamp_ltz(ts_ms, 3) > arrival_time + interval '{{max_future_skew_hours}}' hour
                then 'event time too far in the future'
            when event_type = 'ORDER_PLACED' and customer_id is null then 'missing field: customer_id'
            when event_type = 'ORDER_PLACED' and product_id is null then 'missing field: product_id'
            when event_type = 'ORDER_PLACED' and quantity_raw is null then 'missing field: quantity'
            when event_type = 'ORDER_PLACED' and try_cast(quantity_raw as int) is null then 'wrong type: quantity'
            when event_type = 'ORDER_PLACED' and try_cast(quantity_raw as int) <= 0 then 'quantity must be positive'
            when event_type in ('ORDER_PLACED', 'PAYMENT_RECEIVED') and amount_raw is null then 'missing field: amount'
            when event_type in ('ORDER_PLACED', 'PAYMENT_RECEIVED') and try_cast(amount_raw as double) is null
                then 'wrong type: amount'
            when event_type in ('ORDER_PLACED', 'PAYMENT_RECEIVED') and try_cast(amount_raw as double) <= 0
                then 'amount must be positive'
            when event_type in ('ORDER_PLACED', 'PAYMENT_RECEIVED') and currency is null then 'missing field: currency'
            when event_type in ('ORDER_PLACED', 'PAYMENT_RECEIVED') and currency not in ('EUR', 'USD', 'GBP')
                then 'unknown currency'
            when event_type = 'PAYMENT_RECEIVED' and payment_id is null then 'missing field: payment_id'
            when event_type = 'STOCK_RESERVED' and warehouse is null then 'missing field: warehouse'
            when event_type = 'SHIPPED' and carrier is null then 'missing field: carrier'
            when event_type = 'CANCELLED' and cancel_reason is null then 'missing field: reason'
        end as reason
    from parsed
)
select
    checked.*,
    reason is null
        and watermark_at_arrival is not null
        and event_time <= watermark_at_arrival as is_late
from checked
