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
        count(*) as deals_count,
        sum(case when outcome_at_as_of = 'won' then 1 else 0 end) as won_count,
        sum(case when outcome_at_as_of = 'lost' then 1 else 0 end) as lost_count,
        sum(case when outcome_at_as_of = 'open' then 1 else 0 end) as open_count,
        {{ median('cycle_seconds') }} / 86400.0 as median_cycle_days,
        avg(cycle_seconds) / 86400.0 as avg_cycle_days
    from deals
    group by source_system, is_reassigned
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(is_reassigned as {{ dbt.type_boolean() }}) as is_reassigned,
        cast(deals_count as {{ dbt.type_bigint() }}) as deals_count,
        cast(won_count as {{ dbt.type_bigint() }}) as won_count,
        cast(lost_count as {{ dbt.type_bigint() }}) as lost_count,
        cast(open_count as {{ dbt.type_bigint() }}) as open_count,
        cast(won_count + lost_count as {{ dbt.type_bigint() }}) as closed_count,
        cast(
            {{ safe_ratio('won_count', 'won_count + lost_count') }} as {{ type_double() }}
        ) as win_rate,
        cast(median_cycle_days as {{ type_double() }}) as median_cycle_days,
        cast(avg_cycle_days as {{ type_double() }}) as avg_cycle_days,
        cast(
            won_count + lost_count < {{ var('min_group_size') }} as {{ dbt.type_boolean() }}
        ) as is_below_min_group_size
    from aggregated
)

select * from final
