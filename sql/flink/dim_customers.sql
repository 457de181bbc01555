-- Dimension: the customers versions as a versioned table for the event-time temporal join, from the
-- usable changes of stg_customers. The last row per key by version time makes Flink infer a versioned
-- view (primary key customer_id, version time version_time); the join keeps every version it has seen.
-- A delete is a version too (is_deleted): an order after it matches no live customer.
-- Grain: one version per customer_id and version time. Key: customer_id.
select
    customer_id,
    name,
    region,
    segment,
    updated_at,
    is_deleted,
    version_time
from (
    select
        s.customer_id,
        s.name,
        s.region,
        s.segment,
        s.updated_at,
        s.is_deleted,
        s.version_time,
        row_number() over (partition by s.customer_id order by s.version_time desc) as row_num
    from stg_customers as s
    where s.reason is null
) as latest
where latest.row_num = 1
