-- Owner family: Owner Changed, one event per owner change of a case deal or of a lead (the
-- lead's case: its converted deal's case, or the lead's own). resource = the new owner (the
-- user the case passes to); who made the change is in int_owner_changes_unioned.
with changes as (
    select * from {{ ref('int_owner_changes_unioned') }}
    where changed_at is not null
),

deals as (
    select * from {{ ref('int_deals_filtered') }}
),

leads as (
    select * from {{ ref('int_leads_classified') }}
),

deal_changes as (
    select
        changes.*,
        changes.deal_key as case_id,
        changes.deal_key as object_id
    from changes
    inner join deals
        on
            changes.deal_key = deals.deal_key
            and changes.source_system = deals.source_system
    where changes.object_type = 'deal'
),

lead_changes as (
    select
        changes.*,
        leads.case_id,
        changes.lead_key as object_id
    from changes
    inner join leads
        on
            changes.lead_key = leads.lead_key
            and changes.source_system = leads.source_system
    where changes.object_type = 'lead'
),

case_changes as (
    select
        case_id,
        object_type,
        object_id,
        source_system,
        owner_change_id,
        changed_at,
        to_user_key
    from deal_changes
    union all
    select
        case_id,
        object_type,
        object_id,
        source_system,
        owner_change_id,
        changed_at,
        to_user_key
    from lead_changes
),

final as (
    select
        case_id,
        'Owner Changed' as activity,
        changed_at as event_at,
        object_type,
        object_id,
        source_system,
        owner_change_id as source_row_id,
        to_user_key as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        cast(null as {{ type_double() }}) as amount,
        cast(null as {{ dbt.type_string() }}) as currency
    from case_changes
)

select * from final
