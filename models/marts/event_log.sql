-- The event log: one row per event, ordered deterministically within each case.
with events as (
    select * from {{ ref('int_events_unioned') }}
),

users as (
    select * from {{ ref('int_users_enriched') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_ranged') }}
),

source_loads as (
    select * from {{ ref('int_source_loads_summarized') }}
),

enriched as (
    select
        events.*,
        users.user_name,
        fx_rates.rate_to_reporting,
        source_loads.loaded_at,
        source_loads.load_id
    from events
    left join users
        on events.resource_user_key = users.user_key
    left join source_loads
        on events.source_system = source_loads.source_system
    left join fx_rates
        on
            events.currency = fx_rates.currency_code
            and cast(events.event_at as date) >= fx_rates.valid_from
            and cast(events.event_at as date) < fx_rates.valid_to
),

ordered as (
    select
        *,
        row_number() over (
            partition by case_id
            order by event_at, activity_sort_order, source_row_id, event_id
        ) as event_order
    from enriched
),

final as (
    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(case_id as {{ dbt.type_string() }}) as case_id,
        cast(event_order as {{ dbt.type_bigint() }}) as event_order,
        cast(activity as {{ dbt.type_string() }}) as activity,
        cast(activity_family as {{ dbt.type_string() }}) as activity_family,
        cast(event_at as {{ dbt.type_timestamp() }}) as event_at,
        cast(object_type as {{ dbt.type_string() }}) as object_type,
        cast(object_id as {{ dbt.type_string() }}) as object_id,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(source_row_id as {{ dbt.type_string() }}) as source_row_id,
        cast(resource_user_key as {{ dbt.type_string() }}) as resource_key,
        cast(
            coalesce(user_name, resource_user_key) as {{ dbt.type_string() }}
        ) as resource,
        cast(is_automated as {{ dbt.type_boolean() }}) as is_automated,
        cast(amount as {{ type_double() }}) as amount,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(amount * rate_to_reporting as {{ type_double() }}) as amount_reporting,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        cast(loaded_at as {{ dbt.type_timestamp() }}) as loaded_at,
        cast(load_id as {{ dbt.type_string() }}) as load_id
    from ordered
)

select * from final
