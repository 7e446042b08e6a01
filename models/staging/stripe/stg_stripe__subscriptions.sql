-- Stripe subscriptions with their items (a subscription bills its items every period). The
-- product, interval and current period come from the first item (Stripe keeps them per item
-- since API 2025-03-31); the period amount sums every item. term_months: the committed term
-- from the metadata key in var stripe_subscription_term_metadata_key, else 12 months (yearly
-- and monthly billing alike; a longer billing interval is its own term).
with source as (
    {{ select_source_columns('stripe', 'subscriptions', [
        'id:string', 'customer:string', 'status:string', 'currency:string', 'created:bigint',
        'start_date:bigint', 'canceled_at:bigint', 'ended_at:bigint',
        'cancellation_details__reason:string', 'cancellation_details__feedback:string',
        'metadata__' ~ var('stripe_subscription_term_metadata_key') ~ ':string:term_text',
    ] + metadata_column_specs('stripe_deal_metadata_keys')) }}
),

items as (
    {{ select_source_columns('stripe', 'subscriptions__items__data', [
        'subscription:string', '_dlt_list_idx:bigint', 'quantity:bigint',
        'price__product:string', 'price__nickname:string', 'price__unit_amount:bigint',
        'price__recurring__interval:string', 'price__recurring__interval_count:bigint',
        'current_period_start:bigint', 'current_period_end:bigint',
    ]) }}
),

item_months as (
    select
        *,
        case lower(price__recurring__interval)
            when 'year' then 12
            when 'month' then 1
        end * coalesce(price__recurring__interval_count, 1) as interval_months
    from items
),

item_totals as (
    select
        subscription,
        sum(cast(price__unit_amount as {{ type_double() }}) * coalesce(quantity, 1))
            as period_minor,
        sum(
            cast(price__unit_amount as {{ type_double() }}) * coalesce(quantity, 1)
            / nullif(interval_months, 0)
        ) as mrr_minor
    from item_months
    group by subscription
),

first_items as (
    select * from item_months
    where _dlt_list_idx = 0
),

renamed as (
    select
        'stripe' as source_system,
        {{ make_key('stripe', 'source.id') }} as subscription_key,
        source.id as subscription_id,
        {{ make_key('stripe', 'source.customer') }} as customer_key,
        {{ crm_key_from_metadata('stripe_deal_metadata_keys') }} as crm_deal_key,
        lower(source.status) as status,
        {{ make_key('stripe', 'first_items.price__product') }} as product_key,
        first_items.price__nickname as product_name,
        lower(first_items.price__recurring__interval) as billing_interval,
        first_items.interval_months as billing_interval_months,
        coalesce(
            cast(nullif(trim(source.term_text), '') as {{ dbt.type_int() }}),
            greatest(coalesce(first_items.interval_months, 12), 12)
        ) as term_months,
        cast(first_items.quantity as {{ type_double() }}) as quantity,
        {{ minor_to_major('item_totals.period_minor') }} as period_amount,
        {{ minor_to_major('item_totals.mrr_minor') }} as mrr,
        upper(source.currency) as currency,
        {{ unix_to_timestamp('source.created') }} as created_at,
        {{ unix_to_timestamp('coalesce(source.start_date, source.created)') }} as started_at,
        {{ unix_to_timestamp('source.canceled_at') }} as cancel_requested_at,
        {{ unix_to_timestamp('source.ended_at') }} as ended_at,
        lower(source.cancellation_details__reason) as cancel_reason,
        lower(source.cancellation_details__feedback) as cancel_feedback,
        {{ unix_to_timestamp('first_items.current_period_start') }} as current_period_start_at,
        {{ unix_to_timestamp('first_items.current_period_end') }} as current_period_end_at
    from source
    left join first_items
        on source.id = first_items.subscription
    left join item_totals
        on source.id = item_totals.subscription
),

final as (
    {{ select_canonical('subscriptions') }}
)

select * from final
