-- Source: the products change stream (Debezium envelope) as a versioned table.
-- Grain: one version per product and change. Key: product_id. Version time: updated_at.
create temporary table src_products (
    product_id string,
    name string,
    category string,
    price double,
    updated_at bigint,
    version_time as to_timestamp_ltz(updated_at, 3),
    primary key (product_id) not enforced,
    watermark for version_time as version_time
) with (
{{connector}}
)
