-- Source: order events, one row per message. The message stays raw bytes, so a record that is not
-- valid JSON, not UTF-8, too large or without a value can still be quarantined, with what was
-- published, instead of failing the job (stg_order_events decodes and checks it).
-- Grain: one row per message. Key: none (record_id = md5 of the payload, or of record_position
-- when there is no payload, for idempotent quarantine: contract.record_id).
-- record_position: where the record sits in its source, "<topic>/<partition>/<offset>" on Kafka,
-- the file's path in the embedded default (a file source has no offsets).
-- Arrival time: when the record reached the source (Kafka's record timestamp, or the file's
-- modification time in the embedded default). It is part of the record, so replays decide alike.
-- Event time: ts_ms when it is a plausible epoch-millisecond value, not far ahead of the arrival
-- time; anything else maps to epoch 0, which never advances the watermark (such rows are
-- quarantined before any event-time operator). Deterministic, so Kafka can generate the
-- watermark per partition inside the source. json_long_field (udfs/java) reads ts_ms from the
-- message's bytes as a stream of tokens (JSON_VALUE decoded the message to a string and parsed
-- it into a tree first, for every record); epoch_millis_or_zero names the value once: the same
-- rule as a CASE would read the payload three times per record.
create temporary table src_order_events (
    message bytes,
    {{position_columns}},
    arrival_time timestamp_ltz(3) metadata from '{{arrival_time_key}}' virtual,
    -- Arrival order, for "the first event with this event_id" (int_order_events_occurrence).
    proc_time as proctime(),
    event_time as to_timestamp_ltz(
        epoch_millis_or_zero(
            json_long_field(message, 'ts_ms'),
            arrival_time + interval '{{max_future_skew_hours}}' hour
        ), 3),
    watermark for event_time as event_time - interval '{{watermark_delay_seconds}}' second
) with (
{{connector}}
)
