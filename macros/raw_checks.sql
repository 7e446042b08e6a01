{#- Checks of the raw tables: dbt data tests on the sources (models/staging/<system>/
    _<system>__sources.yml). `dbt build` runs a source's tests before the staging models that
    read it and skips everything downstream when one fails (severity error).

    A raw table that does not exist (a registered system with nothing loaded, a resource that
    never had a row) has nothing to check: staging reads it as an empty select
    (`select_source_columns`), and its tests pass without querying it. dbt's built-in
    `unique`, `not_null` and `accepted_values` get that rule here by overriding their
    dispatched default (`adapter.dispatch('test_unique', 'dbt')` finds the project's
    `default__test_unique` first); on models, which a test only runs after they were built,
    they are dbt's own SQL. -#}

{#- True when `relation` is a declared source whose table is not in the database (read from the
    database, as `relation_columns_present` does, not from dbt's relation cache). -#}
{% macro raw_table_missing(relation) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set ns = namespace(is_source=false) -%}
    {%- for node in graph.sources.values() -%}
        {%- if node.schema | lower == relation.schema | lower
            and node.identifier | lower == relation.identifier | lower -%}
            {%- set ns.is_source = true -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(ns.is_source and relation_columns_present(relation) | length == 0) }}
{%- endmacro %}

{#- What a test on a missing raw table returns: no row. -#}
{% macro raw_table_missing_result() -%}
    select 1 as raw_table_missing where 1 = 0
{%- endmacro %}

{% macro default__test_unique(model, column_name) -%}
    {%- if raw_table_missing(model) -%}
        {{ raw_table_missing_result() }}
    {%- else -%}
        {{ dbt.default__test_unique(model, column_name) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__test_not_null(model, column_name) -%}
    {%- if raw_table_missing(model) -%}
        {{ raw_table_missing_result() }}
    {%- else -%}
        {{ dbt.default__test_not_null(model, column_name) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__test_accepted_values(model, column_name, values, quote=True) -%}
    {%- if raw_table_missing(model) -%}
        {{ raw_table_missing_result() }}
    {%- else -%}
        {{ dbt.default__test_accepted_values(model, column_name, values, quote) }}
    {%- endif -%}
{%- endmacro %}

{#- Generic tests: every value of a timestamp column lies within 2000-01-01 .. now + 1 day (UTC),
    e.g. no epoch-zero dates from a default, no dates in the future; `unix_timestamp_in_range`
    for a column of seconds since the epoch. Nulls are not checked (`not_null` does that).
    Return the rows outside the range. -#}
{% test timestamp_in_range(model, column_name) %}
    {{ raw_timestamps_out_of_range(model, column_name, to_utc_timestamp(column_name)) }}
{% endtest %}

{% test unix_timestamp_in_range(model, column_name) %}
    {{ raw_timestamps_out_of_range(model, column_name, unix_to_timestamp(column_name)) }}
{% endtest %}

{% macro raw_timestamps_out_of_range(model, column_name, value_utc) -%}
    {%- if raw_table_missing(model) -%}
        {{ raw_table_missing_result() }}
    {%- else -%}
        {%- set latest = dbt.dateadd('day', 1, to_utc_timestamp(dbt.current_timestamp())) -%}
    with checked as (
        select
            {{ column_name }} as raw_value,
            {{ value_utc }} as value_utc
        from {{ model }}
        where {{ column_name }} is not null
    )

    select
        raw_value,
        value_utc
    from checked
    where
        value_utc < cast('2000-01-01 00:00:00' as {{ dbt.type_timestamp() }})
        or value_utc > {{ latest | trim }}
    {%- endif -%}
{%- endmacro %}

{#- Generic test: no value below zero. The column is cast to a number first, so a decimal, an
    integer and a number stored as text are checked alike (a text that is no number fails the
    test's query, naming the value). Returns the negative rows. -#}
{% test non_negative(model, column_name) %}
    {%- if raw_table_missing(model) -%}
        {{ raw_table_missing_result() }}
    {%- else -%}
        select {{ column_name }} as negative_value
        from {{ model }}
        where cast({{ column_name }} as {{ type_double() }}) < 0
    {%- endif -%}
{% endtest %}
