-- Pipeline velocity per pipeline: one row per (source_system, pipeline) with deals created at
-- or before as_of.
--   velocity = open qualified deals x their average value x win rate / median sales cycle
-- open qualified deals: open at as_of and currently in a canonical stage at or after
-- Qualification; average value in the reporting currency over those deals; win rate
-- = won / (won + lost) over the pipeline's closed deals; median sales cycle = median days
-- from deal created to won over won deals. Result: expected won value per day.
{%- set qualified_from_stage = 'Qualification' %}

with cases as (
    select * from {{ ref('cases') }}
    where case_type = 'deal'
),

progression as (
    select * from {{ ref('case_stage_progression') }}
),

canonical_stages as (
    select * from {{ ref('canonical_stages') }}
),

qualified_from as (
    select stage_order
    from canonical_stages
    where canonical_stage = '{{ qualified_from_stage }}'
),

deals as (
    select
        progression.case_id,
        progression.source_system,
        progression.pipeline,
        progression.outcome,
        progression.deal_value_reporting,
        progression.deal_value is not null
        and progression.deal_value_reporting is null as is_fx_missing,
        progression.outcome = 'open'
        and coalesce(current_stages.stage_order >= qualified_from.stage_order, false)
            as is_open_qualified,
        case
            when progression.outcome = 'won'
                then {{ days_between('cases.deal_created_at', 'cases.won_at') }}
        end as won_cycle_days
    from progression
    inner join cases
        on progression.case_id = cases.case_id
    cross join qualified_from
    left join canonical_stages as current_stages
        on progression.current_stage = current_stages.canonical_stage
),

aggregated as (
    select
        source_system,
        pipeline,
        count(*) as deals_count,
        sum(case when outcome = 'open' then 1 else 0 end) as open_deals_count,
        sum(case when is_open_qualified then 1 else 0 end) as open_qualified_deals_count,
        {{ unless_fx_missing(
            'avg(case when is_open_qualified then deal_value_reporting end)',
            'is_open_qualified and is_fx_missing'
        ) }} as avg_open_qualified_value_reporting,
        sum(case when outcome = 'won' then 1 else 0 end) as won_count,
        sum(case when outcome = 'lost' then 1 else 0 end) as lost_count,
        {{ median('won_cycle_days') }} as median_sales_cycle_days
    from deals
    group by source_system, pipeline
),

rated as (
    select
        *,
        case
            when won_count + lost_count > 0
                then cast(won_count as {{ type_double() }}) / (won_count + lost_count)
        end as win_rate
    from aggregated
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(coalesce(pipeline, '(none)') as {{ dbt.type_string() }}) as pipeline,
        cast(deals_count as {{ dbt.type_bigint() }}) as deals_count,
        cast(open_deals_count as {{ dbt.type_bigint() }}) as open_deals_count,
        cast(open_qualified_deals_count as {{ dbt.type_bigint() }})
            as open_qualified_deals_count,
        cast(avg_open_qualified_value_reporting as {{ type_double() }})
            as avg_open_qualified_value_reporting,
        cast(won_count as {{ dbt.type_bigint() }}) as won_count,
        cast(lost_count as {{ dbt.type_bigint() }}) as lost_count,
        cast(win_rate as {{ type_double() }}) as win_rate,
        cast(median_sales_cycle_days as {{ type_double() }}) as median_sales_cycle_days,
        cast(
            case
                when median_sales_cycle_days > 0
                    then
                        open_qualified_deals_count
                        * coalesce(
                            avg_open_qualified_value_reporting,
                            case when open_qualified_deals_count = 0 then 0 end
                        )
                        * win_rate
                        / median_sales_cycle_days
            end as {{ type_double() }}
        ) as velocity_value_per_day,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency
    from rated
)

select * from final
