-- Report: anomaly rule firings per day and rule.
-- Grain: one row per day (UTC date of the window start) and rule that fired. Key: day, rule_id.
-- Source: gold.anomalies (one row per rule firing on a window, region and category).
with firings as (
    select
        date(window_start at time zone 'UTC') as day,
        rule_id,
        rule_kind,
        level,
        region,
        category,
        window_start,
        observed,
        threshold
    from gold.anomalies
),

by_day_and_rule as (
    select
        day,
        rule_id,
        rule_kind,
        level,
        count(*) as firings,
        count(distinct region) as regions,
        count(distinct category) as categories,
        min(window_start) as first_window_start,
        max(window_start) as last_window_start,
        max(observed) as max_observed
    from firings
    group by day, rule_id, rule_kind, level
)

select
    day,
    rule_id,
    rule_kind,
    level,
    firings,
    regions,
    categories,
    first_window_start,
    last_window_start,
    max_observed
from by_day_and_rule
order by day, rule_id
