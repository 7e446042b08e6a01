{#- Custom schema names are used literally (staging, intermediate, seeds, marts), so BI tools
    read a schema named `marts` regardless of the target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
