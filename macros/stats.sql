{#- Statistics helpers shared by the analytical marts, dispatched so the marts can build on
    other adapters (DuckDB and Spark implementations here; default is ANSI). -#}

{#- Continuous percentile of expr (fraction 0..1), as an aggregate. -#}
{% macro percentile_cont(expr, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'l2c')(expr, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expr, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__percentile_cont(expr, fraction) -%}
    quantile_cont({{ expr }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile_cont(expr, fraction) -%}
    percentile({{ expr }}, {{ fraction }})
{%- endmacro %}

{#- Median of expr, as an aggregate. -#}
{% macro median(expr) -%}
    {{ l2c.percentile_cont(expr, 0.5) }}
{%- endmacro %}

{#- Elapsed days between two timestamps, as a fraction (double); null if either is null. -#}
{% macro days_between(start_at, end_at) -%}
    cast({{ dbt.datediff(start_at, end_at, 'second') }} as {{ type_double() }}) / 86400.0
{%- endmacro %}
