{#- Shared pieces of the win-rate and conversion comparisons (win_rates, lead_source_performance,
    campaign_performance, segment_performance, owner_change_effect), so each KPI has one
    definition. -#}

{#- Aggregates: deals, and how many are won / lost / open at as_of (column outcome). -#}
{% macro outcome_counts(outcome='outcome_at_as_of') -%}
    count(*) as deals_count,
    sum(case when {{ outcome }} = 'won' then 1 else 0 end) as won_count,
    sum(case when {{ outcome }} = 'lost' then 1 else 0 end) as lost_count,
    sum(case when {{ outcome }} = 'open' then 1 else 0 end) as open_count
{%- endmacro %}

{#- Final columns from outcome_counts: the counts, closed = won + lost, and
    win_rate = won / (won + lost) (null without a closed deal; open deals not counted). -#}
{% macro win_rate_columns() -%}
    cast(deals_count as {{ dbt.type_bigint() }}) as deals_count,
    cast(won_count as {{ dbt.type_bigint() }}) as won_count,
    cast(lost_count as {{ dbt.type_bigint() }}) as lost_count,
    cast(open_count as {{ dbt.type_bigint() }}) as open_count,
    cast(won_count + lost_count as {{ dbt.type_bigint() }}) as closed_count,
    cast(
        {{ safe_ratio('won_count', 'won_count + lost_count') }} as {{ type_double() }}
    ) as win_rate
{%- endmacro %}

{#- Final columns of a lead conversion: leads, converted, conversion_rate = converted / leads. -#}
{% macro conversion_columns() -%}
    cast(leads_count as {{ dbt.type_bigint() }}) as leads_count,
    cast(leads_converted as {{ dbt.type_bigint() }}) as leads_converted,
    cast(
        {{ safe_ratio('leads_converted', 'leads_count') }} as {{ type_double() }}
    ) as conversion_rate
{%- endmacro %}

{#- The guard of every comparison: true when the group's denominator is below var
    min_group_size (its rate is shown but not ranked or compared). -#}
{% macro below_min_group_size(denominator) -%}
    cast({{ denominator }} < {{ var('min_group_size') }} as {{ dbt.type_boolean() }})
{%- endmacro %}

{#- `max(a) as a,` for each column of `attributes` (a select list continues after it): the
    attributes a comparison carries along per group. -#}
{% macro max_of_each(attributes) -%}
    {%- for attribute in attributes %}
        max({{ attribute }}) as {{ attribute }},
    {%- endfor %}
{%- endmacro %}

{#- The CTEs lead_counts, deal_counts, per_system, all_systems and combined of a conversion
    and win-rate comparison by `group_column`, from CTEs leads_at_as_of (source_system,
    group_column, is_converted 0/1) and deals_at_as_of (source_system, group_column,
    outcome_at_as_of); `attributes` are columns carried along per group (max of each).
    combined: one row per (source_system, group_column) with a group's leads or deals, plus
    source_system 'all' rows summing every system per group. -#}
{% macro conversion_and_outcome_counts(group_column, attributes=[]) -%}
lead_counts as (
    select
        source_system,
        {{ group_column }},
        {{- max_of_each(attributes) }}
        count(*) as leads_count,
        sum(is_converted) as leads_converted
    from leads_at_as_of
    group by source_system, {{ group_column }}
),

deal_counts as (
    select
        source_system,
        {{ group_column }},
        {{- max_of_each(attributes) }}
        {{ outcome_counts() }}
    from deals_at_as_of
    group by source_system, {{ group_column }}
),

per_system as (
    select
        coalesce(lead_counts.source_system, deal_counts.source_system) as source_system,
        coalesce(lead_counts.{{ group_column }}, deal_counts.{{ group_column }})
            as {{ group_column }},
        {%- for attribute in attributes %}
        coalesce(lead_counts.{{ attribute }}, deal_counts.{{ attribute }}) as {{ attribute }},
        {%- endfor %}
        coalesce(lead_counts.leads_count, 0) as leads_count,
        coalesce(lead_counts.leads_converted, 0) as leads_converted,
        coalesce(deal_counts.deals_count, 0) as deals_count,
        coalesce(deal_counts.won_count, 0) as won_count,
        coalesce(deal_counts.lost_count, 0) as lost_count,
        coalesce(deal_counts.open_count, 0) as open_count
    from lead_counts
    full outer join deal_counts
        on
            lead_counts.source_system = deal_counts.source_system
            and lead_counts.{{ group_column }} = deal_counts.{{ group_column }}
),

all_systems as (
    select
        'all' as source_system,
        {{ group_column }},
        {{- max_of_each(attributes) }}
        sum(leads_count) as leads_count,
        sum(leads_converted) as leads_converted,
        sum(deals_count) as deals_count,
        sum(won_count) as won_count,
        sum(lost_count) as lost_count,
        sum(open_count) as open_count
    from per_system
    group by {{ group_column }}
),

combined as (
    select * from per_system
    union all
    select * from all_systems
)
{%- endmacro %}
