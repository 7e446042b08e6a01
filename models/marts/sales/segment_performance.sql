-- Win rate and cycle time of deals by segment at the as-of instant. One row per
-- (source_system, dimension, dimension_value): dimension 'deal_type' (as each system names
-- it) or 'product_category' (the deal's main product category); source_system 'all' rows
-- cover every system per value. A missing value is '(none)'.
-- win_rate = won / (won + lost) of the deals created by as_of (open deals not in the
-- denominator); cycle days = creation to won, of the deals won by as_of.
{%- set dimensions = ['deal_type', 'product_category'] %}

with cases as (
    select * from {{ ref('cases') }}
    where case_type = 'deal'
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

deals as (
    select
        cases.source_system,
        cases.deal_type,
        cases.product_category,
        {{ outcome_at_as_of() }} as outcome_at_as_of,
        case
            when cases.outcome = 'won' and cases.won_at <= as_of.as_of
                then {{ days_between('cases.deal_created_at', 'cases.won_at') }}
        end as won_cycle_days
    from cases
    inner join as_of
        on cases.source_system = as_of.source_system
    where {{ created_by_as_of() }}
),

segmented as (
    {%- for dimension in dimensions %}
        select
            source_system,
            '{{ dimension }}' as dimension,
            coalesce({{ dimension }}, '(none)') as dimension_value,
            outcome_at_as_of,
            won_cycle_days
        from deals
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

scoped as (
    select * from segmented
    union all
    select
        'all' as source_system,
        dimension,
        dimension_value,
        outcome_at_as_of,
        won_cycle_days
    from segmented
),

aggregated as (
    select
        source_system,
        dimension,
        dimension_value,
        {{ outcome_counts() }},
        count(won_cycle_days) as won_cycle_count,
        avg(won_cycle_days) as avg_won_cycle_days,
        {{ median('won_cycle_days') }} as median_won_cycle_days
    from scoped
    group by source_system, dimension, dimension_value
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(dimension as {{ dbt.type_string() }}) as dimension,
        cast(dimension_value as {{ dbt.type_string() }}) as dimension_value,
        {{ win_rate_columns() }},
        cast(won_cycle_count as {{ dbt.type_bigint() }}) as won_cycle_count,
        cast(avg_won_cycle_days as {{ type_double() }}) as avg_won_cycle_days,
        cast(median_won_cycle_days as {{ type_double() }}) as median_won_cycle_days,
        {{ below_min_group_size('won_count + lost_count') }} as is_win_rate_below_min_group_size,
        {{ below_min_group_size('won_cycle_count') }} as is_cycle_time_below_min_group_size
    from aggregated
)

select * from final
