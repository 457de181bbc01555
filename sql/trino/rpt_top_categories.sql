-- Report: the three best-selling categories of each region, by revenue over all the data.
-- Grain: one row per region and category among that region's top 3. Key: region, category.
-- Source: silver.orders_enriched (one row per placed order, with the region and category valid
-- at its event time); distinct customers need the order rows, not the pre-aggregated windows.
with by_region_and_category as (
    select
        region,
        category,
        count(*) as orders,
        sum(amount_eur) as revenue_eur,
        count(distinct customer_id) as customers
    from silver.orders_enriched
    group by region, category
),

ranked as (
    select
        region,
        category,
        orders,
        revenue_eur,
        customers,
        rank() over (partition by region order by revenue_eur desc) as revenue_rank,
        revenue_eur / sum(revenue_eur) over (partition by region) as share_of_region_revenue
    from by_region_and_category
)

select
    region,
    revenue_rank,
    category,
    orders,
    revenue_eur,
    revenue_eur / orders as avg_order_value_eur,
    customers,
    share_of_region_revenue
from ranked
where revenue_rank <= 3
order by region, revenue_rank, category
