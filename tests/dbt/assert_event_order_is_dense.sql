-- event_order must run 1..n without gaps in every case.
with event_log as (
    select * from {{ ref('event_log') }}
),

per_case as (
    select
        case_id,
        count(*) as events_count,
        min(event_order) as min_order,
        max(event_order) as max_order
    from event_log
    group by case_id
),

final as (
    select *
    from per_case
    where min_order <> 1 or max_order <> events_count
)

select * from final
