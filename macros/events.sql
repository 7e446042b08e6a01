{#- The columns every int_<family>_events_derived model outputs, in order. -#}
{% macro event_columns() -%}
    {{ return([
        'case_id', 'activity', 'event_at', 'object_type', 'object_id', 'source_system',
        'source_row_id', 'resource_user_key', 'is_automated', 'amount', 'currency',
    ]) }}
{%- endmacro %}

{#- Union of the activity-family event models, exactly the event columns. -#}
{% macro union_event_families(families) -%}
    {%- for family in families %}
    select {{ event_columns() | join(', ') }}
    from {{ ref('int_' ~ family ~ '_events_derived') }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
