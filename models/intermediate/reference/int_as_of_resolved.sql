-- One row: the instant that open durations, ages and "days past due" are measured to.
-- var('as_of') when it is set (a UTC timestamp text), else the latest event in the log,
-- which is the horizon of the loaded data.
{%- set as_of = var('as_of', none) %}

with events as (
    select event_at from {{ ref('int_events_unioned') }}
),

final as (
    select
        {%- if as_of %}
            max(cast('{{ as_of }}' as {{ dbt.type_timestamp() }})) as as_of
        {%- else %}
            max(event_at) as as_of
        {%- endif %}
    from events
)

select * from final
