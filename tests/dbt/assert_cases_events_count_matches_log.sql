-- cases.events_count must equal the number of event_log rows of the case.
with cases as (
    select * from {{ ref('cases') }}
),

event_log as (
    select * from {{ ref('event_log') }}
),

log_counts as (
    select
        case_id,
        count(*) as events_in_log
    from event_log
    group by case_id
),

final as (
    select
        cases.case_id,
        cases.events_count,
        coalesce(log_counts.events_in_log, 0) as events_in_log
    from cases
    left join log_counts
        on cases.case_id = log_counts.case_id
    where cases.events_count <> coalesce(log_counts.events_in_log, 0)
)

select * from final
