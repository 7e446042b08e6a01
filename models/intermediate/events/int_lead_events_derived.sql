-- Lead family: Lead Created (every lead), Lead Qualified (the first qualification of a lead;
-- resource = who qualified it), Lead Disqualified (archived, never converted).
-- A converted lead's events belong to its deal's case.
with leads as (
    select * from {{ ref('int_leads_classified') }}
),

qualifications as (
    select
        quals.*,
        row_number() over (
            partition by quals.source_system, quals.lead_key
            order by quals.qualified_at, quals.lead_qualification_key
        ) as qualification_rank
    from {{ ref('int_lead_qualifications_unioned') }} as quals
    where quals.qualified_at is not null
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

lead_qualified as (
    select
        leads.case_id,
        'Lead Qualified' as activity,
        qualifications.qualified_at as event_at,
        'lead' as object_type,
        leads.lead_key as object_id,
        leads.source_system,
        qualifications.lead_qualification_id as source_row_id,
        qualifications.user_key as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        cast(null as {{ type_double() }}) as amount,
        cast(null as {{ dbt.type_string() }}) as currency
    from leads
    inner join qualifications
        on
            leads.lead_key = qualifications.lead_key
            and leads.source_system = qualifications.source_system
            and qualifications.qualification_rank = 1
),

final as (
    select * from lead_created
    union all
    select * from lead_qualified
    union all
    select * from lead_disqualified
)

select * from final
