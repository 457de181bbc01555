-- Intermediate: every contract-valid order event with its occurrence, the how-many-th valid event
-- with its event_id it is in arrival order, and the record_id of the first one. The first (1)
-- is the event: silver, late events and enrichment read only it. A later one is a duplicate,
-- quarantined as a redelivery (same record_id as the first) or a conflict (different content),
-- so nothing is dropped silently and no key repeats in silver.
-- Grain: one row per valid message. Key: (event_id, occurrence).
-- Arrival order is the processing order: deterministic for the records of one Kafka partition
-- (events with one order_id share a key, hence a partition) and for the embedded file source.
-- State: one count and one record_id per event_id ever seen (bounded by table.exec.state.ttl
-- if a deployment sets it).
select
    v.*,
    count(*) over w as occurrence,
    first_value(v.record_id) over w as first_record_id
from stg_order_events as v
where v.reason is null
window w as (partition by v.event_id order by v.proc_time rows between unbounded preceding and current row)
