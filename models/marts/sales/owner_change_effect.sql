-- The effect of an owner change on the deal: win rate and cycle time of deals reassigned at
-- least once by as_of vs deals never reassigned, per source system that can observe owner
-- changes (others are not here: their deals cannot be told apart). Cycle = deal created ->
-- won / lost, closed deals only.
with deals as (
    select * from {{ ref('int_deals_reassigned') }}
),

aggregated as (
    select
        source_system,
        is_reassigned,
        {{ outcome_counts() }},
        {{ median('cycle_seconds') }} / 86400.0 as median_cycle_days,
        avg(cycle_seconds) / 86400.0 as avg_cycle_days
    from deals
    group by source_system, is_reassigned
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(is_reassigned as {{ dbt.type_boolean() }}) as is_reassigned,
        {{ win_rate_columns() }},
        cast(median_cycle_days as {{ type_double() }}) as median_cycle_days,
        cast(avg_cycle_days as {{ type_double() }}) as avg_cycle_days,
        {{ below_min_group_size('won_count + lost_count') }} as is_below_min_group_size
    from aggregated
)

select * from final
