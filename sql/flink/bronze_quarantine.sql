-- Bronze: records that broke the contract (from staging) or referenced a customer or product
-- that did not exist at their event time (from the temporal join), and customers / products change
-- records the job cannot use (stg_customers, stg_products: rules in lakehouse/cdc.py), with the raw
-- payload. A change record's event_time is left null: its time is what may be broken.
-- Grain: one row per rejected record. Key: record_id (md5 of the payload).
select
    record_id,
    'order-events' as source_stream,
    reason,
    payload,
    case when ts_ms is not null and event_time > to_timestamp_ltz(0, 3)
        then cast(event_time as timestamp(3)) end as event_time
from stg_order_events
where reason is not null
union all
select
    record_id,
    'order-events' as source_stream,
    case
        when matched_customer_id is null then 'unknown customer_id at event time'
        else 'unknown product_id at event time'
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
