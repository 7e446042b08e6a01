{#- Generic test: the combination of columns is unique (no dbt_utils available offline). On a
    source whose table is missing it passes (macros/raw_checks.sql). -#}
{% test unique_combination(model, columns) %}
    {%- if raw_column_state(model) == 'table missing' -%}
        {{ raw_nothing_to_check() }}
    {%- else -%}
    select {{ columns | join(', ') }}, count(*) as n_rows
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
    {%- endif -%}
{% endtest %}
