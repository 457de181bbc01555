-- Dimension: the versions of one entity ({{changes}}: the customers or the products) as a versioned
-- table for the event-time temporal join, from its usable changes. The last row per key by version
-- time makes Flink infer a versioned view (primary key {{key}}, version time version_time); the join
-- keeps every version it has seen. A delete is a version too (is_deleted): an order after it matches
-- no live customer (or product).
-- Grain: one version per {{key}} and version time. Key: {{key}}.
select
    {{key}},
    {{attributes}},
    updated_at,
    is_deleted,
    version_time
from (
    select
        {{key}},
        {{attributes}},
        updated_at,
        is_deleted,
        version_time,
        row_number() over (partition by {{key}} order by version_time desc) as row_num
    from {{changes}}
    where reason is null
) as latest
where row_num = 1
