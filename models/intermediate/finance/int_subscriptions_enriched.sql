-- One row per subscription with its deal (metadata link), the deal's region and owner, its
-- product and start cohort (quarter), and its renewal history at the as-of instant: term
-- ends renewed (Subscription Renewed events up to as_of), whether it ended by as_of and how:
-- voluntary churn (a cancellation by request, a non-renewal) or involuntary (cancelled after
-- failed payments, cancel_reason payment_failed). terms_due = renewals + voluntary churn (the
-- renewal decisions made). MRR in var reporting_currency at the rate of the start date.
with subscriptions as (
    select * from {{ ref('int_subscriptions_unioned') }}
),

deals as (
    select * from {{ ref('int_deals_enriched') }}
),

renewal_events as (
    select * from {{ ref('int_subscription_events_derived') }}
    where activity = 'Subscription Renewed'
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_ranged') }}
),

renewals as (
    select
        renewal_events.object_id as subscription_key,
        count(*) as renewals_count
    from renewal_events
    inner join as_of
        on renewal_events.source_system = as_of.source_system
    where renewal_events.event_at <= as_of.as_of
    group by renewal_events.object_id
),

enriched as (
    select
        subscriptions.subscription_key,
        subscriptions.subscription_id,
        subscriptions.source_system,
        subscriptions.customer_key,
        subscriptions.status,
        subscriptions.product_key,
        subscriptions.billing_interval,
        subscriptions.term_months,
        subscriptions.mrr,
        subscriptions.currency,
        subscriptions.started_at,
        deals.deal_key,
        deals.owner_user_key,
        deals.owner_name,
        as_of.as_of,
        coalesce(subscriptions.product_name, '(none)') as product_name,
        coalesce(deals.region, 'Unassigned') as region,
        {{ to_minor_units('subscriptions.mrr') }} as mrr_minor,
        {{ convert_minor_units(to_minor_units('subscriptions.mrr'), 'fx_rates.rate_to_reporting') }}
            as mrr_reporting_minor,
        cast({{ dbt.date_trunc('quarter', 'subscriptions.started_at') }} as date)
            as cohort_quarter,
        coalesce(renewals.renewals_count, 0) as renewals_count,
        case
            when subscriptions.ended_at <= as_of.as_of then subscriptions.ended_at
        end as ended_at,
        case
            when subscriptions.cancel_requested_at <= as_of.as_of
                then subscriptions.cancel_requested_at
        end as cancel_requested_at,
        case
            when subscriptions.cancel_requested_at <= as_of.as_of
                then subscriptions.cancel_reason
        end as cancel_reason
    from subscriptions
    inner join as_of
        on subscriptions.source_system = as_of.source_system
    left join deals
        on subscriptions.crm_deal_key = deals.deal_key
    left join renewals
        on subscriptions.subscription_key = renewals.subscription_key
    left join fx_rates
        on
            subscriptions.currency = fx_rates.currency_code
            and cast(subscriptions.started_at as date) >= fx_rates.valid_from
            and cast(subscriptions.started_at as date) < fx_rates.valid_to
    where subscriptions.started_at <= as_of.as_of
),

churn as (
    select
        *,
        ended_at is not null as is_churned,
        coalesce(ended_at is not null and cancel_reason = 'payment_failed', false)
            as is_involuntary_churn,
        coalesce(
            ended_at is not null and cancel_reason is distinct from 'payment_failed', false
        ) as is_voluntary_churn
    from enriched
),

final as (
    select
        *,
        renewals_count + (case when is_voluntary_churn then 1 else 0 end) as terms_due
    from churn
)

select * from final
