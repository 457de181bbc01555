-- Bronze: valid events that arrived at or behind the watermark. They are kept in
-- silver.order_events too, but event-time operators would drop them, so this table is their
-- audit trail (and the input of a backfill).
-- Grain: one row per late event. Key: event_id.
select
    event_id,
    event_type,
    order_id,
    cast(event_time as timestamp(3)) as event_time,
    cast(watermark_at_arrival as timestamp(3)) as watermark_at_arrival,
    cast(timestampdiff(second, event_time, watermark_at_arrival) as bigint) as lateness_seconds,
    payload
from int_order_events_occurrence
where occurrence = 1
  and is_late
