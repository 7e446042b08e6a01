-- Subscription family, for subscriptions sold by a deal (subscription metadata names it):
-- Subscription Started (started_at); Subscription Renewed at each committed term end the
-- subscription passed: started_at + k x term_months (k >= 1) at or before the start of its
-- current period and before it ended; Subscription Cancelled (cancel_requested_at: when the
-- cancellation was made, by request or forced by failed payments).
with subscriptions as (
    select
        subscriptions.*,
        deals.deal_key
    from {{ ref('int_subscriptions_unioned') }} as subscriptions
    inner join {{ ref('int_deals_filtered') }} as deals
        on subscriptions.crm_deal_key = deals.deal_key
),

terms as (
    {{ integer_series(2) }}
),

term_ends as (
    select
        subscriptions.deal_key,
        subscriptions.subscription_key,
        subscriptions.subscription_id,
        subscriptions.source_system,
        subscriptions.period_amount,
        subscriptions.currency,
        subscriptions.current_period_start_at,
        subscriptions.ended_at,
        terms.n,
        {{ dbt.dateadd(
            'month', 'terms.n * subscriptions.term_months', 'subscriptions.started_at'
        ) }} as term_end_at
    from subscriptions
    cross join terms
    where terms.n >= 1 and subscriptions.term_months > 0
),

renewals as (
    select
        deal_key as case_id,
        'Subscription Renewed' as activity,
        cast(term_end_at as {{ dbt.type_timestamp() }}) as event_at,
        'subscription' as object_type,
        subscription_key as object_id,
        source_system,
        {{ dbt.concat(['subscription_id', "':term:'", dbt.cast('n', dbt.type_string())]) }}
            as source_row_id,
        cast(null as {{ dbt.type_string() }}) as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        period_amount as amount,
        currency
    from term_ends
    where
        term_end_at <= current_period_start_at
        and (ended_at is null or term_end_at < ended_at)
),

started_and_cancelled as (
    {{ timestamp_events('subscriptions', 'subscription', 'subscription_key', 'subscription_id', [
        ['Subscription Started', 'started_at', 'period_amount'],
        ['Subscription Cancelled', 'cancel_requested_at', 'period_amount'],
    ]) }}
),

final as (
    select * from started_and_cancelled
    union all
    select * from renewals
)

select * from final
