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

{#- The lower-cased column names of a raw table, read from the database (not from dbt's
    relation cache: with several threads the cache of a schema can be half-filled while
    another model compiles, and a cached miss would silently turn a loaded table into an
    empty staging model). An empty list means the table does not exist (yet). -#}
{% macro source_columns_present(source_name, table_name) -%}
    {{ return(relation_columns_present(source(source_name, table_name))) }}
{%- endmacro %}

{% macro relation_columns_present(rel) -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for c in adapter.get_columns_in_relation(rel) -%}
            {%- do names.append(c.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(names) }}
{%- endmacro %}

{% macro select_source_columns(source_name, table_name, columns) -%}
    {{ select_relation_columns(source(source_name, table_name), columns) }}
{%- endmacro %}

{#- The same for a relation that is not a declared source (e.g. a loader's `rejects` table,
    which exists only once something was rejected). -#}
{% macro select_relation_columns(rel, columns) -%}
    {%- set existing = relation_columns_present(rel) -%}
    {%- set found = (not execute) or (existing | length > 0) %}
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
    {%- if found %}
    from {{ rel }}
    {%- else %}
    where 1 = 0
    {%- endif %}
{%- endmacro %}
