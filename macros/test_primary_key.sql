{#- Generic test: the column is a primary key, i.e. unique and never null, in one query (one
    test node instead of unique + not_null). Returns one row per duplicated key value and one
    row for the null keys, each with how many rows have it. -#}
{% test primary_key(model, column_name) %}
    select
        {{ column_name }} as key_value,
        count(*) as n_rows,
        case when {{ column_name }} is null then 'null' else 'duplicate' end as failure
    from {{ model }}
    group by {{ column_name }}
    having {{ column_name }} is null or count(*) > 1
{% endtest %}
