-- Revenue schedules of a finance system whose total differs from their invoice line's amount
-- (or whose line is not loaded): the line's amount is recognised over the schedule's period,
-- so recognised revenue may differ from the finance system's own schedule.
-- One row per affected (source_system, object_type): see marts.data_quality_issues.
{{ config(severity='warn') }}

with issues as (
    select * from {{ ref('data_quality_issues') }}
),

final as (
    select
        source_system,
        object_type,
        affected_count,
        description
    from issues
    where issue = 'revenue_schedule_mismatch'
)

select * from final
