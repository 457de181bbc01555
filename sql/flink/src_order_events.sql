-- Source: order events, one row per message. The payload stays raw so that a record that is not
-- valid JSON can still be quarantined instead of failing the job.
-- Grain: one row per message. Key: none (record_id = md5 of the payload, for idempotent quarantine).
-- Event time: ts_ms when it is a plausible epoch-millisecond value; anything else maps to epoch 0,
-- which never advances the watermark (such rows are quarantined before any event-time operator).
create temporary table src_order_events (
    payload string,
    ts_ms as try_cast(json_value(payload, '$.ts_ms') as bigint),
    event_time as to_timestamp_ltz(
        case
            when try_cast(json_value(payload, '$.ts_ms') as bigint)
                 between 0 and unix_timestamp() * 1000 + {{max_future_skew_ms}}
            then try_cast(json_value(payload, '$.ts_ms') as bigint)
            else 0
        end, 3),
    watermark for event_time as event_time - interval '{{watermark_delay_seconds}}' second
) with (
{{connector}}
)
