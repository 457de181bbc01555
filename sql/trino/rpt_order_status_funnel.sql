-- Report: the order lifecycle funnel: how many orders reach each status, and how long after being placed.
-- Grain: one row per status (event type), in lifecycle order. Key: status.
-- An order reaches a status when silver.order_events holds an event of that type for it (late
-- events included: they are valid events). Time to a status runs from the order's ORDER_PLACED
-- event to its first event of that status, for orders that have both. Percentiles are exact
-- (nearest rank: the smallest value with at least p of the orders at or below it), not approx_percentile.
with statuses (step, status) as (
    values
        (1, 'ORDER_PLACED'),
        (2, 'PAYMENT_RECEIVED'),
        (3, 'STOCK_RESERVED'),
        (4, 'SHIPPED'),
        (5, 'DELIVERED'),
        (6, 'CANCELLED')
),

reached as (
    select
        order_id,
        event_type as status,
        min(event_time) as reached_at
    from silver.order_events
    group by order_id, event_type
),

placed as (
    select
        order_id,
        reached_at as placed_at
    from reached
    where status = 'ORDER_PLACED'
),

timed as (
    select
        reached.status,
        to_milliseconds(reached.reached_at - placed.placed_at) / 1e3 as seconds
    from reached
    inner join placed on placed.order_id = reached.order_id
),

ranked as (
    select
        status,
        seconds,
        row_number() over (partition by status order by seconds) as position,
        count(*) over (partition by status) as timed_orders
    from timed
),

durations as (
    select
        status,
        count(*) as timed_orders,
        avg(seconds) as avg_seconds,
        min(case when position >= 0.5 * timed_orders then seconds end) as p50_seconds,
        min(case when position >= 0.9 * timed_orders then seconds end) as p90_seconds
    from ranked
    group by status
),

counts as (
    select
        status,
        count(*) as orders
    from reached
    group by status
),

placed_count as (
    select count(*) as placed_orders
    from placed
)

select
    statuses.step,
    statuses.status,
    coalesce(counts.orders, 0) as orders,
    1e2 * coalesce(counts.orders, 0) / placed_count.placed_orders as pct_of_placed,
    coalesce(durations.timed_orders, 0) as timed_orders,
    durations.avg_seconds,
    durations.p50_seconds,
    durations.p90_seconds
from statuses
cross join placed_count
left join counts on counts.status = statuses.status
left join durations on durations.status = statuses.status
order by statuses.step
