-- Cases without a creation time: counted in cases and win rates, but without a creation
-- event, cycle time or cohort (and, with no event at all, absent from process mining).
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
    where issue = 'case_without_start'
)

select * from final
