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
