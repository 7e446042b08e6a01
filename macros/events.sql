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

{#- Events of one object type that each happen at a timestamp column of the object.
    `activities`: list of [activity, timestamp column, amount column] (amount may be none).
    One select per activity, unioned; rows whose timestamp is null are not events. -#}
{% macro timestamp_events(relation, object_type, object_key, object_id, activities,
                          case_key='deal_key', resource_user_key=none, currency='currency') -%}
    {%- for activity, at_column, amount_column in activities %}
    select
        {{ case_key }} as case_id,
        '{{ activity }}' as activity,
        {{ at_column }} as event_at,
        '{{ object_type }}' as object_type,
        {{ object_key }} as object_id,
        source_system,
        {{ object_id }} as source_row_id,
        {{ resource_user_key or 'cast(null as ' ~ dbt.type_string() ~ ')' }} as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        {{ amount_column or 'cast(null as ' ~ type_double() ~ ')' }} as amount,
        {{ currency }} as currency
    from {{ relation }}
    where {{ at_column }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
