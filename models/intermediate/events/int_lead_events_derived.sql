-- Lead family: Lead Created (every lead), Lead Disqualified (archived, never converted).
-- A converted lead's events belong to its deal's case.
with leads as (
    select * from {{ ref('int_leads_classified') }}
),

lead_created as (
    select
        case_id,
        'Lead Created' as activity,
        created_at as event_at,
        'lead' as object_type,
        lead_key as object_id,
        source_system,
        lead_id as source_row_id,
        owner_user_key as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        value as amount,
        currency
    from leads
    where created_at is not null
),

lead_disqualified as (
    select
        case_id,
        'Lead Disqualified' as activity,
        disqualified_at as event_at,
        'lead' as object_type,
        lead_key as object_id,
        source_system,
        lead_id as source_row_id,
        owner_user_key as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        cast(null as {{ type_double() }}) as amount,
        cast(null as {{ dbt.type_string() }}) as currency
    from leads
    where lead_status = 'disqualified' and disqualified_at is not null
),

final as (
    select * from lead_created
    union all
    select * from lead_disqualified
)

select * from final
