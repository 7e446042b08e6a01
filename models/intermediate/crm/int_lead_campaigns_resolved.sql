-- The campaign of each lead that is a member of one: its earliest membership (ties: the
-- smallest member key), with the campaign's name and type. Memberships of contacts without a
-- lead are not a lead's campaign.
with members as (
    select * from {{ ref('int_campaign_members_unioned') }}
    where lead_key is not null
),

campaigns as (
    select * from {{ ref('int_campaigns_unioned') }}
),

ranked as (
    select
        members.source_system,
        members.lead_key,
        members.campaign_key,
        members.created_at as joined_at,
        row_number() over (
            partition by members.source_system, members.lead_key
            order by members.created_at, members.campaign_member_key
        ) as membership_order
    from members
),

final as (
    select
        ranked.source_system,
        ranked.lead_key,
        ranked.campaign_key,
        campaigns.campaign_name,
        campaigns.campaign_type,
        ranked.joined_at
    from ranked
    left join campaigns
        on
            ranked.campaign_key = campaigns.campaign_key
            and ranked.source_system = campaigns.source_system
    where ranked.membership_order = 1
)

select * from final
