-- The as-of instant of each source system: what its open durations, ages and "days past due"
-- are measured to. Default: the system's own latest event, so a system whose data ended long
-- ago is measured at its own horizon, not at another system's. var('as_of') overrides it: a
-- UTC timestamp text sets every system's as-of; a mapping {system: timestamp text} sets the
-- systems it names (the others keep their default). warehouse_as_of is the instant of the
-- whole warehouse (the global override, else the latest of the systems' as-of instants), and
-- days_behind how far a system's latest event lies before it (see data_quality_issues).
{%- set as_of = var('as_of', none) %}
{%- set overrides = as_of if as_of is mapping else {} %}
{%- set global_override = none if as_of is mapping else as_of %}
{%- set whens = [] %}
{%- for system, instant in overrides.items() %}
    {%- do whens.append("when systems.source_system = '" ~ system ~ "' then cast('" ~ instant
        ~ "' as " ~ dbt.type_timestamp() ~ ")") %}
{%- endfor %}
{%- if global_override %}
    {%- set override_expr = "cast('" ~ global_override ~ "' as " ~ dbt.type_timestamp() ~ ")" %}
{%- elif whens %}
    {%- set override_expr = "case " ~ (whens | join(' ')) ~ " end" %}
{%- else %}
    {%- set override_expr = "cast(null as " ~ dbt.type_timestamp() ~ ")" %}
{%- endif %}

with events as (
    select
        source_system,
        event_at
    from {{ ref('int_events_unioned') }}
),

latest_events as (
    select
        source_system,
        max(event_at) as latest_event_at
    from events
    group by source_system
),

registered as (
    {%- for system in var('l2c_systems') %}
        select '{{ system }}' as source_system
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

systems as (
    select source_system from registered
    union
    select source_system from latest_events
),

defaulted as (
    select
        systems.source_system,
        latest_events.latest_event_at,
        {{ override_expr }} as overridden_as_of
    from systems
    left join latest_events
        on systems.source_system = latest_events.source_system
),

-- exactly one row
warehouse as (
    select
        {%- if global_override %}
            max(cast('{{ global_override }}' as {{ dbt.type_timestamp() }})) as warehouse_as_of
        {%- else %}
            max(coalesce(overridden_as_of, latest_event_at)) as warehouse_as_of
        {%- endif %}
    from defaulted
),

final as (
    select
        cast(defaulted.source_system as {{ dbt.type_string() }}) as source_system,
        cast(
            coalesce(
                defaulted.overridden_as_of,
                defaulted.latest_event_at,
                warehouse.warehouse_as_of
            ) as {{ dbt.type_timestamp() }}
        ) as as_of,
        cast(defaulted.latest_event_at as {{ dbt.type_timestamp() }}) as latest_event_at,
        cast(warehouse.warehouse_as_of as {{ dbt.type_timestamp() }}) as warehouse_as_of,
        cast(
            defaulted.overridden_as_of is not null as {{ dbt.type_boolean() }}
        ) as is_overridden,
        cast(
            {{ days_between('defaulted.latest_event_at', 'warehouse.warehouse_as_of') }}
            as {{ type_double() }}
        ) as days_behind
    from defaulted
    cross join warehouse
)

select * from final
