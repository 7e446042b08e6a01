-- Credit notes whose reason is none of the canonical credit-note reasons (a value of the
-- system's own that its staging model does not map): each is a reason row of its own in
-- refund_reasons. One row per affected source_system: see marts.data_quality_issues.
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
    where issue = 'credit_note_reason_unmapped'
)

select * from final
