{#- Time normalisation. Every timestamp leaving staging is a UTC `timestamp` without zone. -#}

{#- timestamptz, RFC3339 text or 'YYYY-MM-DD HH:MM:SS' text (UTC) -> UTC timestamp -#}
{% macro to_utc_timestamp(expr) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'l2c')(expr)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(expr) -%}
    cast({{ expr }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__to_utc_timestamp(expr) -%}
    timezone('UTC', cast({{ expr }} as timestamp with time zone))
{%- endmacro %}

{% macro spark__to_utc_timestamp(expr) -%}
    to_utc_timestamp(cast({{ expr }} as timestamp), current_timezone())
{%- endmacro %}

{#- unix epoch seconds -> UTC timestamp -#}
{% macro unix_to_timestamp(expr) -%}
    {{ return(adapter.dispatch('unix_to_timestamp', 'l2c')(expr)) }}
{%- endmacro %}

{% macro default__unix_to_timestamp(expr) -%}
    to_timestamp({{ expr }})
{%- endmacro %}

{% macro duckdb__unix_to_timestamp(expr) -%}
    make_timestamp(cast({{ expr }} as bigint) * 1000000)
{%- endmacro %}

{% macro spark__unix_to_timestamp(expr) -%}
    to_utc_timestamp(timestamp_seconds(cast({{ expr }} as bigint)), current_timezone())
{%- endmacro %}

{#- 'YYYY-MM-DD' text -> date -#}
{% macro text_to_date(expr) -%}
    cast({{ expr }} as date)
{%- endmacro %}

{#- minor currency units (cents) -> major units as double -#}
{% macro minor_to_major(expr, divisor=100) -%}
    cast({{ expr }} as {{ type_double() }}) / {{ divisor }}
{%- endmacro %}
