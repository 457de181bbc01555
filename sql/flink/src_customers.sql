-- Source: the customers change stream (Debezium envelope) as a versioned table.
-- Grain: one version per customer and change. Key: customer_id. Version time: updated_at.
create temporary table src_customers (
    customer_id string,
    name string,
    region string,
    segment string,
    updated_at bigint,
    version_time as to_timestamp_ltz(updated_at, 3),
    primary key (customer_id) not enforced,
    watermark for version_time as version_time
) with (
{{connector}}
)
