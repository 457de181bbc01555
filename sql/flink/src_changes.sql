-- Source: a change stream of Debezium envelopes ({{table}}: the customers or the products), one row per
-- record, read raw so that a change the job cannot read is quarantined (stg_customers, stg_products)
-- instead of failing the job (lakehouse/sources/cdc.py).
-- Grain: one row per change record. Key: none (record_id = md5 of the payload).
-- envelope: the Debezium envelope, unwrapped from JsonConverter's {schema, payload} when configured.
-- Version time: after.updated_at for c/u/r; for a delete, the delete's own time (source.ts_ms, else
-- ts_ms). Anything implausible (missing, not a number, far ahead of the arrival time) maps to epoch
-- 0, which never advances the watermark; such rows are quarantined before the temporal join.
create temporary table {{table}} (
    payload string,
    arrival_time timestamp_ltz(3) metadata from '{{arrival_time_key}}' virtual,
    envelope as {{cdc_envelope}},
    version_time as to_timestamp_ltz(
        epoch_millis_or_zero(
            try_cast(
                case json_value({{cdc_envelope}}, '$.op')
                    when 'd' then coalesce(
                        json_value({{cdc_envelope}}, '$.source.ts_ms'),
                        json_value({{cdc_envelope}}, '$.ts_ms'))
                    else json_value({{cdc_envelope}}, '$.after.updated_at')
                end as bigint),
            arrival_time + interval '{{max_future_skew_hours}}' hour
        ), 3),
    watermark for version_time as version_time
) with (
{{connector}}
)
