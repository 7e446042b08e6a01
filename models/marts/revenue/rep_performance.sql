-- The revenue KPIs side by side per rep (the deal's current owner), with the minimum-n guard:
-- a rank is null when its denominator is below var min_group_size.
with performance as (
    select * from {{ ref('int_performance_groups_aggregated') }}
    where dimension = 'rep'
),

users as (
    select * from {{ ref('int_users_enriched') }}
),

ranked as (
    select
        performance.*,
        {{ performance_ranks() }}
    from performance
),

final as (
    select
        cast(ranked.group_key as {{ dbt.type_string() }}) as rep_key,
        cast(users.source_system as {{ dbt.type_string() }}) as source_system,
        cast(users.user_name as {{ dbt.type_string() }}) as rep_name,
        cast(users.team_name as {{ dbt.type_string() }}) as team,
        {{ performance_kpi_columns('ranked') }}
    from ranked
    left join users
        on ranked.group_key = users.user_key
)

select * from final
