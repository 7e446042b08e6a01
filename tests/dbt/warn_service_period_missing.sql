-- Subscription invoice lines without a service period: recognised in full at the invoice
-- date instead of over their period, so recognised and deferred revenue are off.
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
    where issue = 'service_period_missing'
)

select * from final
