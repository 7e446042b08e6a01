{#- Checks of the raw tables: dbt data tests on the sources (models/staging/<system>/
    _<system>__sources.yml). `dbt build` runs a source's tests before the staging models that
    read it and skips everything downstream when one fails (severity error).

    A raw table that does not exist (a registered system with nothing loaded, a resource that
    never had a row) has nothing to check: staging reads it as an empty select
    (`select_source_columns`), and its tests pass without querying it. A raw column that does
    not exist holds only nulls (dlt adds a column with its first non-null value): `not_null`
    fails on every row, the other tests have nothing to check. dbt's built-in `unique`,
    `not_null`, `accepted_values` and `relationships` get these rules here by overriding their dispatched
    default (`adapter.dispatch('test_unique', 'dbt')` finds the project's
    `default__test_unique` first); on models they are dbt's own SQL. -#}

{#- How a checked raw table and column stand: 'present'; or, for a declared source only,
    'table missing' (not loaded (yet): nothing to check) or 'column missing' (dlt creates a
    column once a non-null value arrives, so an absent column is a column of nulls). Read from
    the database, as `relation_columns_present` does, not from dbt's relation cache. A model
    is always 'present' (a test runs after its model was built). -#}
{% macro raw_column_state(relation, column_name=none) -%}
    {%- if not execute -%}
        {{ return('present') }}
    {%- endif -%}
    {%- set ns = namespace(is_source=false) -%}
    {%- for node in graph.sources.values() -%}
        {%- if node.schema | lower == relation.schema | lower
            and node.identifier | lower == relation.identifier | lower -%}
            {%- set ns.is_source = true -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not ns.is_source -%}
        {{ return('present') }}
    {%- endif -%}
    {%- set columns = relation_columns_present(relation) -%}
    {%- if columns | length == 0 -%}
        {{ return('table missing') }}
    {%- elif column_name is not none and (column_name | lower) not in columns -%}
        {{ return('column missing') }}
    {%- endif -%}
    {{ return('present') }}
{%- endmacro %}

{#- What a test returns when there is nothing to check: no row. -#}
{% macro raw_nothing_to_check() -%}
    select 1 as nothing_to_check where 1 = 0
{%- endmacro %}

{% macro default__test_unique(model, column_name) -%}
    {%- if raw_column_state(model, column_name) != 'present' -%}
        {{ raw_nothing_to_check() }}
    {%- else -%}
        {{ dbt.default__test_unique(model, column_name) }}
    {%- endif -%}
{%- endmacro %}

{#- an absent column is all nulls: every row of the table fails -#}
{% macro default__test_not_null(model, column_name) -%}
    {%- set state = raw_column_state(model, column_name) -%}
    {%- if state == 'table missing' -%}
        {{ raw_nothing_to_check() }}
    {%- elif state == 'column missing' -%}
        select 1 as column_missing from {{ model }}
    {%- else -%}
        {{ dbt.default__test_not_null(model, column_name) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__test_accepted_values(model, column_name, values, quote=True) -%}
    {%- if raw_column_state(model, column_name) != 'present' -%}
        {{ raw_nothing_to_check() }}
    {%- else -%}
        {{ dbt.default__test_accepted_values(model, column_name, values, quote) }}
    {%- endif -%}
{%- endmacro %}

{#- a raw reference whose column or whose target table was never loaded has nothing to
    check -#}
{% macro default__test_relationships(model, column_name, to, field) -%}
    {%- if raw_column_state(model, column_name) != 'present'
        or raw_column_state(to, field) == 'table missing' -%}
        {{ raw_nothing_to_check() }}
    {%- else -%}
        {{ dbt.default__test_relationships(model, column_name, to, field) }}
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
    {%- if raw_column_state(model, column_name) != 'present' -%}
        {{ raw_nothing_to_check() }}
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
    {%- if raw_column_state(model, column_name) != 'present' -%}
        {{ raw_nothing_to_check() }}
    {%- else -%}
        select {{ column_name }} as negative_value
        from {{ model }}
        where cast({{ column_name }} as {{ type_double() }}) < 0
    {%- endif -%}
{% endtest %}
