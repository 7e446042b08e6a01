-- Subscription Changed, for subscriptions sold by a deal (subscription metadata names it): one
-- event per change of a subscription's MRR (quantity or price) at its changed_at; amount =
-- the MRR change (new - previous, negative for a contraction).
with subscriptions as (
    select
        subscriptions.subscription_key,
        subscriptions.source_system,
        deals.deal_key
    from {{ ref('int_subscriptions_unioned') }} as subscriptions
    inner join {{ ref('int_deals_filtered') }} as deals
        on subscriptions.crm_deal_key = deals.deal_key
),

changes as (
    select
        changes.*,
        subscriptions.deal_key,
        changes.mrr - changes.previous_mrr as mrr_change
    from {{ ref('int_subscription_changes_unioned') }} as changes
    inner join subscriptions
        on
            changes.subscription_key = subscriptions.subscription_key
            and changes.source_system = subscriptions.source_system
),

final as (
    {{ timestamp_events('changes', 'subscription', 'subscription_key',
        'subscription_change_id', [
        ['Subscription Changed', 'changed_at', 'mrr_change'],
    ]) }}
)

select * from final
