-- Staging: every customers change record parsed and checked (rules in lakehouse/sources/cdc.py).
-- Grain: one row per change record; tombstones (null values, no change) are skipped.
-- Key: record_id (md5 of the payload). customer_id: after's for c/u/r, before's for a delete.
-- updated_at: the version's time in epoch ms (after.updated_at, or the delete's time).
-- reason is null for a usable change; otherwise the first broken rule, in the order below.
with parsed as (
    select
        s.payload,
        md5(s.payload) as record_id,
        is_json_object(s.payload) as is_json,
        s.envelope,
        json_value(s.envelope, '$.op') as op,
        case when json_value(s.envelope, '$.op') = 'd'
            then json_value(s.envelope, '$.before.customer_id')
            else json_value(s.envelope, '$.after.customer_id')
        end as customer_id,
        json_value(s.envelope, '$.after.name') as name,
        json_value(s.envelope, '$.after.region') as region,
        json_value(s.envelope, '$.after.segment') as segment,
        json_value(s.envelope, '$.after.updated_at') as updated_at_raw,
        coalesce(json_value(s.envelope, '$.source.ts_ms'), json_value(s.envelope, '$.ts_ms')) as deleted_at_raw,
        s.version_time
    from src_customers as s
    where s.payload is not null
)
select
    record_id,
    payload,
    op,
    customer_id,
    name,
    region,
    segment,
    op = 'd' as is_deleted,
    try_cast(case when op = 'd' then deleted_at_raw else updated_at_raw end as bigint) as updated_at,
    version_time,
    case
        when not is_json then 'invalid JSON'
        when envelope is null then 'missing field: payload (schema-wrapped envelope expected)'
        when op is null then 'missing field: op'
        when op not in ('c', 'u', 'r', 'd') then 'unknown op'
        when op = 'd' and customer_id is null then 'missing field: before.customer_id'
        when customer_id is null then 'missing field: after.customer_id'
        when op <> 'd' and updated_at_raw is null then 'missing field: after.updated_at'
        when op <> 'd' and not coalesce(regexp(updated_at_raw, '^-?[0-9]+$'), false)
            then 'wrong type: after.updated_at'
        when op <> 'd' and try_cast(updated_at_raw as bigint) is null then 'wrong type: after.updated_at'
        when op = 'd' and deleted_at_raw is null then 'missing field: source.ts_ms'
        when op = 'd' and not coalesce(regexp(deleted_at_raw, '^-?[0-9]+$'), false)
            then 'wrong type: source.ts_ms'
        when op = 'd' and try_cast(deleted_at_raw as bigint) is null then 'wrong type: source.ts_ms'
        when version_time <= to_timestamp_ltz(0, 3) then 'version time out of range'
    end as reason
from parsed
