-- Deal family: Deal Created, Deal Won, Deal Lost (from the deal record's timestamps; won and
-- lost only when the current status agrees, so a reopened deal has no stale outcome event).
with deals as (
    select * from {{ ref('int_deals_filtered') }}
),

deal_milestones as (
    select
        deal_key,
        deal_id,
        source_system,
        owner_user_key,
        value,
        currency,
        created_at,
        case when status = 'won' then won_at end as won_event_at,
        case when status = 'lost' then lost_at end as lost_event_at
    from deals
),

final as (
    {{ timestamp_events('deal_milestones', 'deal', 'deal_key', 'deal_id', [
        ['Deal Created', 'created_at', 'value'],
        ['Deal Won', 'won_event_at', 'value'],
        ['Deal Lost', 'lost_event_at', 'value'],
    ], resource_user_key='owner_user_key') }}
)

select * from final
