-- Systems whose latest event is more than var stale_system_days before the warehouse as-of
-- instant: a system that stopped loading, or whose export ended.
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
    where issue = 'system_data_stale'
)

select * from final
