-- Leads with their conversion status:
--   converted     a (non-deleted) deal references the lead (its own lead reference, or the
--                 lead's converted_deal_key: see int_deals_filtered); earliest such deal wins.
--                 converted_deal_key here is that deal (the source's value is superseded).
--   converted_without_deal
--                 the source says the lead was converted (is_converted: e.g. a Salesforce lead
--                 converted to an account / contact only) but no deal references it;
--                 converted_at = its last update (the conversion), no converted_deal_key
--   disqualified  archived, not converted and referenced by no deal (disqualified_at = last
--                 update)
--   open          everything else
with leads as (
    select * from {{ ref('int_leads_unioned') }}
),

deals as (
    select * from {{ ref('int_deals_filtered') }}
),

conversions as (
    select
        source_system,
        lead_key,
        deal_key,
        created_at,
        row_number() over (
            partition by source_system, lead_key
            order by created_at, deal_key
        ) as conversion_rank
    from deals
    where lead_key is not null
),

classified as (
    select
        leads.lead_key,
        leads.lead_id,
        leads.source_system,
        leads.title,
        leads.owner_user_key,
        leads.person_key,
        leads.account_key,
        leads.lead_source,
        leads.is_archived,
        leads.value,
        leads.currency,
        leads.created_at,
        leads.updated_at,
        conversions.deal_key as converted_deal_key,
        case
            when conversions.deal_key is not null then conversions.created_at
            when coalesce(leads.is_converted, false) then leads.updated_at
        end as converted_at,
        case
            when conversions.deal_key is not null then 'converted'
            when coalesce(leads.is_converted, false) then 'converted_without_deal'
            when leads.is_archived then 'disqualified'
            else 'open'
        end as lead_status,
        -- the source's reason, for disqualified leads only
        case
            when
                conversions.deal_key is null
                and not coalesce(leads.is_converted, false)
                and leads.is_archived
                then leads.disqualified_reason
        end as disqualified_reason
    from leads
    left join conversions
        on
            leads.lead_key = conversions.lead_key
            and leads.source_system = conversions.source_system
            and conversions.conversion_rank = 1
),

final as (
    select
        *,
        case when lead_status = 'disqualified' then updated_at end as disqualified_at,

        coalesce(
            converted_deal_key,
            {{ make_key_expr('source_system', 'lead_id', 'lead') }}
        ) as case_id
    from classified
)

select * from final
