{#- Schema-drift tolerant access to raw tables.

    dlt creates a column only once a non-null value arrives, and custom fields come and go, so
    any optional raw column may be absent. `columns` is a list of "name:type[:alias]" strings
    (type is a logical name understood by l2c_type; alias renames the output column). Present columns are cast to the type, absent ones
    become typed nulls. If the whole raw table is missing, the result is an empty, typed select,
    so downstream models still build (e.g. no deal discounts loaded yet).
    Inspired by fivetran_utils.fill_staging_columns, written for this project. -#}

{% macro parse_column_spec(spec) -%}
    {%- set parts = spec.split(':') -%}
    {%- set name = parts[0] | trim | lower -%}
    {{ return({
        'name': name,
        'type': (parts[1] if parts | length > 1 else 'string') | trim,
        'alias': (parts[2] | trim | lower) if parts | length > 2 else name,
    }) }}
{%- endmacro %}

{% macro source_relation_or_none(source_name, table_name) -%}
    {%- set rel = source(source_name, table_name) -%}
    {%- if not execute -%}
        {{ return(rel) }}
    {%- endif -%}
    {%- set found = adapter.get_relation(database=rel.database, schema=rel.schema,
                                         identifier=rel.identifier) -%}
    {{ return(found) }}
{%- endmacro %}

{% macro select_source_columns(source_name, table_name, columns) -%}
    {%- set rel = source(source_name, table_name) -%}
    {%- set found = source_relation_or_none(source_name, table_name) -%}
    {%- set existing = [] -%}
    {%- if execute and found is not none -%}
        {%- for c in adapter.get_columns_in_relation(found) -%}
            {%- do existing.append(c.name | lower) -%}
        {%- endfor -%}
    {%- endif %}
    select
    {%- for spec in columns %}
        {%- set col = parse_column_spec(spec) %}
        {%- if col.name in existing %}
        cast({{ adapter.quote(col.name) }} as {{ l2c_type(col.type) }}) as {{ col.alias }}
        {%- else %}
        cast(null as {{ l2c_type(col.type) }}) as {{ col.alias }}
        {%- endif -%}
        {{- "," if not loop.last }}
    {%- endfor %}
    {%- if found is not none %}
    from {{ rel }}
    {%- else %}
    where 1 = 0
    {%- endif %}
{%- endmacro %}
