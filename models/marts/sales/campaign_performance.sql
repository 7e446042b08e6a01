-- Conversion and win rate by marketing campaign at the as-of instant. One row per
-- (source_system, campaign), plus source_system 'all' rows summing every system per campaign
-- name. A lead's campaign is its earliest campaign membership; a deal's is its primary
-- campaign (its own, else its lead's). '(none)': leads and deals without a campaign.
-- conversion_rate = leads converted into a deal by as_of / leads created by as_of.
-- win_rate = won / (won + lost) of the deals created by as_of: open deals are not in the
-- denominator.
with leads as (
    select * from {{ ref('int_leads_classified') }}
),

lead_campaigns as (
    select * from {{ ref('int_lead_campaigns_resolved') }}
),

cases as (
    select * from {{ ref('cases') }}
    where case_type = 'deal'
),

deal_segments as (
    select * from {{ ref('int_deal_segments_derived') }}
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

leads_at_as_of as (
    select
        leads.source_system,
        lead_campaigns.campaign_type,
        coalesce(lead_campaigns.campaign_name, '(none)') as campaign,
        case
            when leads.lead_status = 'converted' and leads.converted_at <= as_of.as_of
                then 1
            else 0
        end as is_converted
    from leads
    inner join as_of
        on leads.source_system = as_of.source_system
    left join lead_campaigns
        on
            leads.lead_key = lead_campaigns.lead_key
            and leads.source_system = lead_campaigns.source_system
    where leads.created_at <= as_of.as_of
),

deals_at_as_of as (
    select
        cases.source_system,
        deal_segments.campaign_type,
        coalesce(cases.campaign, '(none)') as campaign,
        {{ outcome_at_as_of() }} as outcome_at_as_of
    from cases
    inner join as_of
        on cases.source_system = as_of.source_system
    left join deal_segments
        on
            cases.deal_key = deal_segments.deal_key
            and cases.source_system = deal_segments.source_system
    where {{ created_by_as_of() }}
),

lead_counts as (
    select
        source_system,
        campaign,
        max(campaign_type) as campaign_type,
        count(*) as leads_count,
        sum(is_converted) as leads_converted
    from leads_at_as_of
    group by source_system, campaign
),

deal_counts as (
    select
        source_system,
        campaign,
        max(campaign_type) as campaign_type,
        {{ outcome_counts() }}
    from deals_at_as_of
    group by source_system, campaign
),

per_system as (
    select
        coalesce(lead_counts.source_system, deal_counts.source_system) as source_system,
        coalesce(lead_counts.campaign, deal_counts.campaign) as campaign,
        coalesce(lead_counts.campaign_type, deal_counts.campaign_type) as campaign_type,
        coalesce(lead_counts.leads_count, 0) as leads_count,
        coalesce(lead_counts.leads_converted, 0) as leads_converted,
        coalesce(deal_counts.deals_count, 0) as deals_count,
        coalesce(deal_counts.won_count, 0) as won_count,
        coalesce(deal_counts.lost_count, 0) as lost_count,
        coalesce(deal_counts.open_count, 0) as open_count
    from lead_counts
    full outer join deal_counts
        on
            lead_counts.source_system = deal_counts.source_system
            and lead_counts.campaign = deal_counts.campaign
),

all_systems as (
    select
        'all' as source_system,
        campaign,
        max(campaign_type) as campaign_type,
        sum(leads_count) as leads_count,
        sum(leads_converted) as leads_converted,
        sum(deals_count) as deals_count,
        sum(won_count) as won_count,
        sum(lost_count) as lost_count,
        sum(open_count) as open_count
    from per_system
    group by campaign
),

combined as (
    select * from per_system
    union all
    select * from all_systems
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(campaign as {{ dbt.type_string() }}) as campaign,
        cast(campaign_type as {{ dbt.type_string() }}) as campaign_type,
        {{ conversion_columns() }},
        {{ win_rate_columns() }},
        {{ below_min_group_size('leads_count') }} as is_conversion_below_min_group_size,
        {{ below_min_group_size('won_count + lost_count') }} as is_win_rate_below_min_group_size
    from combined
)

select * from final
