{#- Logical type names used by the column specs -> adapter types (dbt's cross-db type macros). -#}
{% macro l2c_type(name) -%}
    {%- if name == 'string' -%}{{ dbt.type_string() }}
    {%- elif name == 'bigint' -%}{{ dbt.type_bigint() }}
    {%- elif name == 'int' -%}{{ dbt.type_int() }}
    {%- elif name == 'float' -%}{{ type_double() }}
    {%- elif name == 'boolean' -%}{{ dbt.type_boolean() }}
    {%- elif name == 'timestamp' -%}{{ dbt.type_timestamp() }}
    {%- elif name == 'timestamptz' -%}{{ l2c_type_timestamptz() }}
    {%- elif name == 'date' -%}date
    {%- else -%}{{ name }}
    {%- endif -%}
{%- endmacro %}

{% macro l2c_type_timestamptz() -%}
    {{ return(adapter.dispatch('l2c_type_timestamptz', 'l2c')()) }}
{%- endmacro %}
{% macro default__l2c_type_timestamptz() -%}timestamp with time zone{%- endmacro %}
{% macro spark__l2c_type_timestamptz() -%}timestamp{%- endmacro %}

{#- 64-bit floating point for money (dbt.type_float() is 32-bit REAL on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'l2c')()) }}
{%- endmacro %}
{% macro default__type_double() -%}double precision{%- endmacro %}
{% macro duckdb__type_double() -%}double{%- endmacro %}
{% macro spark__type_double() -%}double{%- endmacro %}
