-- Amounts whose currency has no FX rate to the reporting currency on their date (seed
-- fx_rates): their reporting values, and the reporting sums including them, are null.
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
    where issue = 'fx_rate_missing'
)

select * from final
