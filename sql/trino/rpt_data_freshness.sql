-- Report: how fresh each table is: its newest event time and its newest Delta commit.
-- Grain: one row per lakehouse table. Key: table_name.
-- Event time is event_time for event tables and window_end for window tables (the event time up
-- to which their windows are complete); quarantined records with an unreadable time have none.
-- Commit time and version come from the Delta log, through the connector's "$history" table.
with latest_events as (
    select
        'bronze.quarantine' as table_name,
        count(*) as row_count,
        max(event_time) as latest_event_time
    from bronze.quarantine

    union all

    select
        'bronze.late_events' as table_name,
        count(*) as row_count,
        max(event_time) as latest_event_time
    from bronze.late_events

    union all

    select
        'silver.order_events' as table_name,
        count(*) as row_count,
        max(event_time) as latest_event_time
    from silver.order_events

    union all

    select
        'silver.orders_enriched' as table_name,
        count(*) as row_count,
        max(event_time) as latest_event_time
    from silver.orders_enriched

    union all

    select
        'gold.order_metrics_1m' as table_name,
        count(*) as row_count,
        max(window_end) as latest_event_time
    from gold.order_metrics_1m

    union all

    select
        'gold.order_metrics_5m' as table_name,
        count(*) as row_count,
        max(window_end) as latest_event_time
    from gold.order_metrics_5m

    union all

    select
        'gold.order_metrics_1h' as table_name,
        count(*) as row_count,
        max(window_end) as latest_event_time
    from gold.order_metrics_1h

    union all

    select
        'gold.anomalies' as table_name,
        count(*) as row_count,
        max(window_end) as latest_event_time
    from gold.anomalies
),

latest_commits as (
    select
        'bronze.quarantine' as table_name,
        max(version) as delta_version,
        max("timestamp") as latest_commit_time
    from bronze."quarantine$history"

    union all

    select
        'bronze.late_events' as table_name,
        max(version) as delta_version,
        max("timestamp") as latest_commit_time
    from bronze."late_events$history"

    union all

    select
        'silver.order_events' as table_name,
        max(version) as delta_version,
        max("timestamp") as latest_commit_time
    from silver."order_events$history"

    union all

    select
        'silver.orders_enriched' as table_name,
        max(version) as delta_version,
        max("timestamp") as latest_commit_time
    from silver."orders_enriched$history"

    union all

    select
        'gold.order_metrics_1m' as table_name,
        max(version) as delta_version,
        max("timestamp") as latest_commit_time
    from gold."order_metrics_1m$history"

    union all

    select
        'gold.order_metrics_5m' as table_name,
        max(version) as delta_version,
        max("timestamp") as latest_commit_time
    from gold."order_metrics_5m$history"

    union all

    select
        'gold.order_metrics_1h' as table_name,
        max(version) as delta_version,
        max("timestamp") as latest_commit_time
    from gold."order_metrics_1h$history"

    union all

    select
        'gold.anomalies' as table_name,
        max(version) as delta_version,
        max("timestamp") as latest_commit_time
    from gold."anomalies$history"
)

select
    latest_events.table_name,
    latest_events.row_count,
    latest_events.latest_event_time,
    latest_commits.delta_version,
    latest_commits.latest_commit_time
from latest_events
inner join latest_commits on latest_commits.table_name = latest_events.table_name
order by latest_events.table_name
