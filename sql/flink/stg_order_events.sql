-- Staging: every order-event message parsed and checked against the contract (lakehouse/contract.py).
-- Grain: one row per message. Key: record_id (the md5 of the payload, or of the record's position
-- in its source when it has no payload: see contract.record_id).
-- reason is null for a valid event; otherwise the first broken rule, in the contract's order. The
-- field list, the check arms, their reasons and bounds are filled from lakehouse/contract.py
-- ({{field_spec}}-style placeholders), so the rules are declared once.
-- is_late marks valid events that arrive at or behind the watermark of their own stream (a Kafka
-- partition; the whole input for the embedded file source): the newest event time read from that
-- stream so far, this record included, minus the watermark delay. A stream's records come in the
-- same order on every read, so a live run, a restore and a flat-out replay decide alike; the
-- job's watermark is at most this, so no event-time operator (the temporal join, the windows) can
-- see an on-time event as late. Late events are routed to bronze.late_events.
-- The message is decoded once by raw_record (its bytes kept as base64 when they are not UTF-8) and
-- parsed once by json_object_fields (udfs/java): JSON_VALUE would parse it again for every use of
-- every field, since the planner inlines these columns into each rule below.
with decoded as (
    select
        r.payload,
        r.is_utf8,
        r.size_bytes,
        case when r.payload is null or r.payload = '' then md5(s.record_position) else md5(r.payload) end
            as record_id,
        s.arrival_time,
        s.proc_time,
        s.event_time,
        -- (a plain timestamp: a maximum over the rowtime column would be a second rowtime)
        cast(max(cast(s.event_time as timestamp_ltz(3))) over (
            partition by s.record_stream
            order by s.proc_time
            rows between unbounded preceding and current row
        ) as timestamp_ltz(3)) - interval '{{watermark_delay_seconds}}' second as watermark_at_arrival
    from src_order_events as s
    cross join lateral table(raw_record(s.message)) as r(payload, is_utf8, size_bytes)
),
parsed as (
    select
        d.*,
        f.*,
        try_cast(f.ts_raw as bigint) as ts_ms
    from decoded as d
    cross join lateral table(json_object_fields(
        -- A record too large or not UTF-8 is not parsed at all.
        case when d.is_utf8 and d.size_bytes <= {{max_record_bytes}} then d.payload end,
        '{{field_spec}}'
    )) as f({{field_columns}})
),
checked as (
    select
        parsed.*,
        try_cast(quantity_raw as int) as quantity,
        try_cast(amount_raw as double) as amount,
        case
            {{contract_checks}}
        end as reason
    from parsed
)
select
    checked.*,
    reason is null
        and watermark_at_arrival is not null
        and event_time <= watermark_at_arrival as is_late
from checked
