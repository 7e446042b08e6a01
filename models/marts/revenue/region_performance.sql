-- The revenue KPIs side by side per region (the deal's region; invoices without a deal link
-- take their customer's CRM account region; 'Unassigned' when unknown), with the minimum-n
-- guard: a rank is null when its denominator is below var min_group_size.
with performance as (
    select * from {{ ref('int_performance_groups_aggregated') }}
    where dimension = 'region'
),

ranked as (
    select
        performance.*,
        {{ performance_ranks() }}
    from performance
),

final as (
    select
        cast(ranked.group_key as {{ dbt.type_string() }}) as region,
        {{ performance_kpi_columns('ranked') }}
    from ranked
)

select * from final
