-- The MRR of each subscription over time, at the as-of instant: one span from its start to
-- its first change (at the MRR before that change, else its current MRR), then one span per
-- change (Subscription Changed by as_of) until the next change or its end (ended_at by
-- as_of; null = still running). A span counts at instant t when valid_from < t <= valid_to
-- (as a subscription counts from its start to its end). MRR in cents of var
-- reporting_currency at the rate of the subscription's start date, as everywhere else.
with subscriptions as (
    select * from {{ ref('int_subscriptions_enriched') }}
),

changes as (
    select * from {{ ref('int_subscription_changes_unioned') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_ranged') }}
),

changes_to_date as (
    select
        changes.subscription_key,
        changes.source_system,
        changes.subscription_change_key,
        changes.changed_at,
        changes.previous_mrr,
        changes.mrr,
        row_number() over (
            partition by changes.source_system, changes.subscription_key
            order by changes.changed_at, changes.subscription_change_key
        ) as change_number,
        lead(changes.changed_at) over (
            partition by changes.source_system, changes.subscription_key
            order by changes.changed_at, changes.subscription_change_key
        ) as next_changed_at
    from changes
    inner join subscriptions
        on
            changes.subscription_key = subscriptions.subscription_key
            and changes.source_system = subscriptions.source_system
    where changes.changed_at <= subscriptions.as_of
),

spans as (
    select
        subscriptions.subscription_key,
        subscriptions.source_system,
        0 as span_number,
        subscriptions.started_at as valid_from,
        coalesce(first_change.changed_at, subscriptions.ended_at) as valid_to,
        coalesce(first_change.previous_mrr, subscriptions.mrr) as mrr
    from subscriptions
    left join changes_to_date as first_change
        on
            subscriptions.subscription_key = first_change.subscription_key
            and subscriptions.source_system = first_change.source_system
            and first_change.change_number = 1
    union all
    select
        subscriptions.subscription_key,
        subscriptions.source_system,
        changes_to_date.change_number as span_number,
        changes_to_date.changed_at as valid_from,
        coalesce(changes_to_date.next_changed_at, subscriptions.ended_at) as valid_to,
        changes_to_date.mrr
    from changes_to_date
    inner join subscriptions
        on
            changes_to_date.subscription_key = subscriptions.subscription_key
            and changes_to_date.source_system = subscriptions.source_system
),

final as (
    select
        spans.subscription_key,
        spans.source_system,
        subscriptions.customer_key,
        spans.span_number,
        spans.valid_from,
        spans.valid_to,
        spans.mrr,
        subscriptions.currency,
        {{ convert_minor_units(to_minor_units('spans.mrr'), 'fx_rates.rate_to_reporting') }}
            as mrr_reporting_minor
    from spans
    inner join subscriptions
        on
            spans.subscription_key = subscriptions.subscription_key
            and spans.source_system = subscriptions.source_system
    left join fx_rates
        on
            subscriptions.currency = fx_rates.currency_code
            and cast(subscriptions.started_at as date) >= fx_rates.valid_from
            and cast(subscriptions.started_at as date) < fx_rates.valid_to
)

select * from final
