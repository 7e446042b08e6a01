-- Finalized invoices without any line loaded (of a system that loads lines): billed but
-- never recognised, so recognised revenue is understated.
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
    where issue = 'invoice_without_lines'
)

select * from final
