-- Lead response (creation -> first contact) and qualification (creation -> first
-- qualification) per source system: over all leads, per lead source, per rep (the lead's
-- owner when it came in) and per campaign (the lead's earliest campaign membership; only for
-- systems with lead campaign memberships, '(none)' for their leads without one). Leads
-- created at or before their system's as_of; a contact or a qualification counts when it
-- happened by then. A KPI of a step the system cannot observe
-- (int_observable_activities_resolved) is null, never 0.
with leads as (
    select * from {{ ref('int_leads_progressed') }}
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

users as (
    select * from {{ ref('int_users_enriched') }}
),

lead_campaigns as (
    select * from {{ ref('int_lead_campaigns_resolved') }}
),

campaign_systems as (
    -- systems whose leads have campaigns (memberships: Salesforce CampaignMember, Oracle CX
    -- LeadCampaigns); Pipedrive and Zendesk Sell have no campaign object
    select distinct source_system from {{ ref('int_lead_campaigns_resolved') }}
),

observable as (
    select
        source_system,
        max(case when activity = 'First Contact' then 1 else 0 end) as observes_contact,
        max(case when activity = 'Lead Qualified' then 1 else 0 end) as observes_qualification
    from {{ ref('int_observable_activities_resolved') }}
    group by source_system
),

leads_at_as_of as (
    select
        leads.source_system,
        leads.lead_key,
        coalesce(leads.lead_source, '(none)') as lead_source,
        coalesce(leads.initial_owner_user_key, 'unknown') as owner_key,
        coalesce(lead_campaigns.campaign_key, '(none)') as campaign_key,
        coalesce(lead_campaigns.campaign_name, lead_campaigns.campaign_key, '(none)')
            as campaign_name,
        case
            when leads.first_contact_at <= as_of.as_of then leads.response_seconds
        end as response_seconds,
        case
            when leads.qualified_at <= as_of.as_of then leads.qualification_seconds
        end as qualification_seconds,
        case when leads.qualified_at <= as_of.as_of then 1 else 0 end as is_qualified
    from leads
    inner join as_of
        on leads.source_system = as_of.source_system
    left join lead_campaigns
        on
            leads.lead_key = lead_campaigns.lead_key
            and leads.source_system = lead_campaigns.source_system
    where leads.created_at <= as_of.as_of
),

tagged as (
    select
        source_system,
        'all' as dimension,
        'all' as group_key,
        'all leads' as group_name,
        response_seconds,
        qualification_seconds,
        is_qualified
    from leads_at_as_of
    union all
    select
        source_system,
        'lead_source' as dimension,
        lead_source as group_key,
        lead_source as group_name,
        response_seconds,
        qualification_seconds,
        is_qualified
    from leads_at_as_of
    union all
    select
        leads_at_as_of.source_system,
        'rep' as dimension,
        leads_at_as_of.owner_key as group_key,
        coalesce(users.user_name, leads_at_as_of.owner_key) as group_name,
        leads_at_as_of.response_seconds,
        leads_at_as_of.qualification_seconds,
        leads_at_as_of.is_qualified
    from leads_at_as_of
    left join users
        on
            leads_at_as_of.source_system = users.source_system
            and leads_at_as_of.owner_key = users.user_key
    union all
    select
        leads_at_as_of.source_system,
        'campaign' as dimension,
        leads_at_as_of.campaign_key as group_key,
        leads_at_as_of.campaign_name as group_name,
        leads_at_as_of.response_seconds,
        leads_at_as_of.qualification_seconds,
        leads_at_as_of.is_qualified
    from leads_at_as_of
    inner join campaign_systems
        on leads_at_as_of.source_system = campaign_systems.source_system
),

aggregated as (
    select
        source_system,
        dimension,
        group_key,
        min(group_name) as group_name,
        count(*) as leads_count,
        count(response_seconds) as contacted_count,
        {{ median('response_seconds') }} / 3600.0 as median_response_hours,
        avg(response_seconds) / 3600.0 as avg_response_hours,
        sum(is_qualified) as qualified_count,
        {{ median('qualification_seconds') }} / 86400.0 as median_qualification_days
    from tagged
    group by source_system, dimension, group_key
),

guarded as (
    select
        aggregated.*,
        coalesce(observable.observes_contact, 0) = 1 as is_contact_observable,
        coalesce(observable.observes_qualification, 0) = 1 as is_qualification_observable,
        aggregated.contacted_count < {{ var('min_group_size') }}
            as is_response_below_min_group_size,
        aggregated.leads_count < {{ var('min_group_size') }}
            as is_qualification_below_min_group_size
    from aggregated
    left join observable
        on aggregated.source_system = observable.source_system
),

ranked as (
    select
        *,
        case
            when
                is_contact_observable
                and not is_response_below_min_group_size
                and dimension <> 'all'
                then rank() over (
                    partition by
                        source_system,
                        dimension,
                        is_contact_observable,
                        is_response_below_min_group_size
                    order by median_response_hours desc
                )
        end as slowest_response_rank
    from guarded
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(dimension as {{ dbt.type_string() }}) as dimension,
        cast(group_key as {{ dbt.type_string() }}) as group_key,
        cast(group_name as {{ dbt.type_string() }}) as group_name,
        cast(leads_count as {{ dbt.type_bigint() }}) as leads_count,
        cast(
            case when is_contact_observable then contacted_count end as {{ dbt.type_bigint() }}
        ) as contacted_count,
        cast(
            case
                when is_contact_observable
                    then {{ safe_ratio('contacted_count', 'leads_count') }}
            end as {{ type_double() }}
        ) as contact_rate,
        cast(
            case when is_contact_observable then median_response_hours end as {{ type_double() }}
        ) as median_response_hours,
        cast(
            case when is_contact_observable then avg_response_hours end as {{ type_double() }}
        ) as avg_response_hours,
        cast(
            case when is_qualification_observable then qualified_count end
            as {{ dbt.type_bigint() }}
        ) as qualified_count,
        cast(
            case
                when is_qualification_observable
                    then {{ safe_ratio('qualified_count', 'leads_count') }}
            end as {{ type_double() }}
        ) as qualification_rate,
        cast(
            case when is_qualification_observable then median_qualification_days end
            as {{ type_double() }}
        ) as median_qualification_days,
        cast(is_contact_observable as {{ dbt.type_boolean() }}) as is_contact_observable,
        cast(
            is_qualification_observable as {{ dbt.type_boolean() }}
        ) as is_qualification_observable,
        cast(
            is_response_below_min_group_size as {{ dbt.type_boolean() }}
        ) as is_response_below_min_group_size,
        cast(
            is_qualification_below_min_group_size as {{ dbt.type_boolean() }}
        ) as is_qualification_below_min_group_size,
        cast(slowest_response_rank as {{ dbt.type_int() }}) as slowest_response_rank
    from ranked
)

select * from final
