{#- Every key in the warehouse is `<source_system>:<id>` (optionally `<source_system>:<kind>:<id>`).
    Null ids give null keys (concat() would silently turn null into ''). -#}
{% macro make_key(source_system, id_expr, kind=none) -%}
    {%- set prefix = source_system ~ ':' ~ (kind ~ ':' if kind else '') -%}
    case
        when {{ id_expr }} is not null
            then {{ dbt.concat(["'" ~ prefix ~ "'", dbt.cast(id_expr, dbt.type_string())]) }}
    end
{%- endmacro %}

{#- Same, but the source system is a column expression (used in intermediate models). -#}
{% macro make_key_expr(source_system_expr, id_expr, kind=none) -%}
    case
        when {{ id_expr }} is not null
            then {{ dbt.concat([source_system_expr, "'" ~ (':' ~ kind if kind else '') ~ ":'",
                               dbt.cast(id_expr, dbt.type_string())]) }}
    end
{%- endmacro %}

{#- Stable surrogate id: hash over the given expressions, nulls made explicit. -#}
{% macro stable_id(exprs) -%}
    {%- set parts = [] -%}
    {%- for e in exprs -%}
        {%- do parts.append("coalesce(" ~ dbt.cast(e, dbt.type_string()) ~ ", '~')") -%}
        {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
