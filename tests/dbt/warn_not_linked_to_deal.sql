-- Approval requests and contracts that name no deal of the warehouse: they are in no event
-- and no approval or contract mart. One row per affected (source_system, object_type): see
-- marts.data_quality_issues.
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
    where issue = 'not_linked_to_deal'
)

select * from final
