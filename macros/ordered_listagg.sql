{#- String aggregation in a given order: `measure` values joined by `delimiter_text` (a SQL
    string literal) in the order of `order_by` (one expression, ascending). dbt's listagg
    takes an order by clause, but on Spark it ignores it (collect_list keeps no order), so a
    path such as 'Qualification > Proposal' could come out in any order there. -#}
{% macro ordered_listagg(measure, delimiter_text, order_by) -%}
    {{ return(adapter.dispatch('ordered_listagg', 'l2c')(measure, delimiter_text, order_by)) }}
{%- endmacro %}

{% macro default__ordered_listagg(measure, delimiter_text, order_by) -%}
    {{ dbt.listagg(measure, delimiter_text, 'order by ' ~ order_by) }}
{%- endmacro %}

{#- Spark: collect (order key, value) pairs, sort them (structs sort by their fields in
    order), keep the values. Nulls are left out, as string_agg / listagg do. -#}
{% macro spark__ordered_listagg(measure, delimiter_text, order_by) -%}
    array_join(
        transform(
            array_sort(collect_list(named_struct('k', {{ order_by }}, 'v', {{ measure }}))),
            x -> x.v
        ),
        {{ delimiter_text }}
    )
{%- endmacro %}
