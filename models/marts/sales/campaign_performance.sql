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

{{ conversion_and_outcome_counts('campaign', ['campaign_type']) }},

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
