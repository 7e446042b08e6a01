-- One row per lead: when it was created, first contacted and first qualified, by whom, and
-- its owner when it came in (the former owner of its first owner change, else its owner).
-- Seconds from creation to each step; null when the step did not happen (or the system
-- cannot observe it: see int_observable_activities_resolved).
with leads as (
    select * from {{ ref('int_leads_classified') }}
),

contacts as (
    select * from {{ ref('int_contact_events_derived') }}
),

qualifications as (
    select * from {{ ref('int_lead_events_derived') }}
    where activity = 'Lead Qualified'
),

lead_owner_changes as (
    select
        source_system,
        lead_key,
        from_user_key,
        row_number() over (
            partition by source_system, lead_key
            order by changed_at, owner_change_key
        ) as change_rank
    from {{ ref('int_owner_changes_unioned') }}
    where object_type = 'lead' and changed_at is not null
),

final as (
    select
        leads.lead_key,
        leads.source_system,
        leads.case_id,
        leads.lead_source,
        coalesce(lead_owner_changes.from_user_key, leads.owner_user_key)
            as initial_owner_user_key,
        leads.created_at,
        contacts.event_at as first_contact_at,
        contacts.resource_user_key as first_contact_user_key,
        qualifications.event_at as qualified_at,
        qualifications.resource_user_key as qualified_by_user_key,
        {{ dbt.datediff('leads.created_at', 'contacts.event_at', 'second') }}
            as response_seconds,
        {{ dbt.datediff('leads.created_at', 'qualifications.event_at', 'second') }}
            as qualification_seconds
    from leads
    left join contacts
        on
            leads.lead_key = contacts.object_id
            and leads.source_system = contacts.source_system
    left join qualifications
        on
            leads.lead_key = qualifications.object_id
            and leads.source_system = qualifications.source_system
    left join lead_owner_changes
        on
            leads.lead_key = lead_owner_changes.lead_key
            and leads.source_system = lead_owner_changes.source_system
            and lead_owner_changes.change_rank = 1
)

select * from final
