-- Bronze: records that broke the contract (from staging) or referenced a customer or product
-- that did not exist at their event time (from the temporal join), and customers / products change
-- records the job cannot use (stg_customers, stg_products: rules in lakehouse/sources/cdc.py), with the raw
-- payload (base64 after "base64:" when its bytes are not UTF-8). An order event's event_time is
-- its ts_ms when that is a plausible time (lakehouse/contract.py), else null; a change record's is
-- left null: its time is what may be broken.
-- Grain: one row per rejected record. Key: record_id (md5 of the payload, or of the record's
-- position in its source when it has none).
select
    record_id,
    'order-events' as source_stream,
    reason,
    payload,
    -- Nested, so that no ts_ms beyond the plausible range is ever converted to a timestamp.
    case when ts_ms between {{min_event_time_ms}} and {{max_event_time_ms}} then
        case when to_timestamp_ltz(ts_ms, 3) <= arrival_time + interval '{{max_future_skew_hours}}' hour
            then cast(to_timestamp_ltz(ts_ms, 3) as timestamp(3)) end
    end as event_time
from stg_order_events
where reason is not null
union all
-- A valid event whose event_id came before (int_order_events_occurrence), keyed by
-- contract.duplicate_record_id: md5 of "<record_id>/<occurrence>".
select
    md5(concat(record_id, '/', cast(occurrence as string))) as record_id,
    'order-events' as source_stream,
    case when record_id = first_record_id then {{reason_duplicate}} else {{reason_duplicate_conflict}} end as reason,
    payload,
    cast(event_time as timestamp(3)) as event_time
from int_order_events_occurrence
where occurrence > 1
union all
select
    record_id,
    'order-events' as source_stream,
    case
        when matched_customer_id is null then {{reason_unknown_customer}}
        else {{reason_unknown_product}}
    end as reason,
    payload,
    cast(event_time as timestamp(3)) as event_time
from int_orders_enriched
where matched_customer_id is null
   or matched_product_id is null
union all
select
    record_id,
    'customers' as source_stream,
    reason,
    payload,
    cast(null as timestamp(3)) as event_time
from stg_customers
where reason is not null
union all
select
    record_id,
    'products' as source_stream,
    reason,
    payload,
    cast(null as timestamp(3)) as event_time
from stg_products
where reason is not null
