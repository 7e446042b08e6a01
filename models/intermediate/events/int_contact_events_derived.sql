-- Contact family: First Contact, the first done customer-facing activity (types in var
-- customer_facing_activity_types) on a lead, in the lead's case (its converted deal's case,
-- or the lead's own). resource = the activity's owner. Activities on the deal only (not on
-- the lead) do not count: the lead response is measured on the lead.
with activities as (
    select * from {{ ref('int_activities_filtered') }}
    where lead_key is not null
),

leads as (
    select * from {{ ref('int_leads_classified') }}
),

ranked as (
    select
        leads.case_id,
        leads.lead_key,
        activities.source_system,
        activities.activity_id,
        activities.done_at,
        activities.owner_user_key,
        row_number() over (
            partition by activities.source_system, activities.lead_key
            order by activities.done_at, activities.activity_key
        ) as contact_rank
    from activities
    inner join leads
        on
            activities.lead_key = leads.lead_key
            and activities.source_system = leads.source_system
),

final as (
    select
        case_id,
        'First Contact' as activity,
        done_at as event_at,
        'lead' as object_type,
        lead_key as object_id,
        source_system,
        activity_id as source_row_id,
        owner_user_key as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        cast(null as {{ type_double() }}) as amount,
        cast(null as {{ dbt.type_string() }}) as currency
    from ranked
    where contact_rank = 1
)

select * from final
