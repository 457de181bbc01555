-- Gold: order metrics at one window level ({{level}}), typed for the Delta table.
-- Grain: one row per window, region and category. Key: window_start, region, category.
select
    cast(window_start as timestamp(3)) as window_start,
    cast(window_end as timestamp(3)) as window_end,
    region,
    category,
    order_count,
    revenue_eur,
    avg_order_value_eur,
    distinct_customers,
    min_amount_eur,
    max_amount_eur
from fct_order_metrics_{{level}}
