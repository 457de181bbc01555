-- Dimension: the products versions as a versioned table for the event-time temporal join, from the
-- usable changes of stg_products. The last row per key by version time makes Flink infer a versioned
-- view (primary key product_id, version time version_time); the join keeps every version it has seen.
-- A delete is a version too (is_deleted): an order after it matches no live product.
-- Grain: one version per product_id and version time. Key: product_id.
select
    product_id,
    name,
    category,
    price,
    updated_at,
    is_deleted,
    version_time
from (
    select
        s.product_id,
        s.name,
        s.category,
        s.price,
        s.updated_at,
        s.is_deleted,
        s.version_time,
        row_number() over (partition by s.product_id order by s.version_time desc) as row_num
    from stg_products as s
    where s.reason is null
) as latest
where latest.row_num = 1
