-- Canonical deals without deleted ones: the deals that form cases. A deal's lead_key is its
-- own reference to the lead it came from (Pipedrive) or, for CRMs that record the conversion
-- on the lead (Salesforce ConvertedOpportunityId), the lead that names the deal.
with deals as (
    select * from {{ ref('int_deals_unioned') }}
),

leads as (
    select * from {{ ref('int_leads_unioned') }}
),

converting_leads as (
    select
        source_system,
        converted_deal_key as deal_key,
        min(lead_key) as lead_key
    from leads
    where converted_deal_key is not null
    group by source_system, converted_deal_key
),

final as (
    select
        deals.deal_key,
        deals.deal_id,
        deals.source_system,
        deals.title,
        deals.owner_user_key,
        deals.account_key,
        deals.person_key,
        deals.pipeline_key,
        deals.stage_key,
        deals.status,
        deals.value,
        deals.currency,
        deals.region,
        deals.created_at,
        deals.updated_at,
        deals.won_at,
        deals.lost_at,
        deals.closed_at,
        deals.lost_reason,
        deals.expected_close_date,
        deals.is_deleted,
        deals.deal_type,
        deals.campaign_key,
        coalesce(deals.lead_key, converting_leads.lead_key) as lead_key
    from deals
    left join converting_leads
        on
            deals.deal_key = converting_leads.deal_key
            and deals.source_system = converting_leads.source_system
    where not coalesce(deals.is_deleted, false)
)

select * from final
