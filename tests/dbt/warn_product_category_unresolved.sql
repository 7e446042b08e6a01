-- Products pointing at a category whose label is not loaded: their deals count under
-- product_category '(none)'. One row per affected source_system: see
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
    where issue = 'product_category_unresolved'
)

select * from final
