-- How each Stripe invoice is billed and collected: its subscription (top-level `subscription`
-- before API 2025-03-31, `parent.subscription_details.subscription` since), billing_reason
-- (manual, subscription_create, subscription_cycle, subscription_update, ...), payment
-- attempts so far and the next automatic retry (null once retries ended), and the service
-- period its subscription lines cover.
with source as (
    {{ select_source_columns('stripe', 'invoices', [
        'id:string', 'subscription:string', 'parent__subscription_details__subscription:string',
        'billing_reason:string', 'attempt_count:bigint', 'next_payment_attempt:bigint',
    ]) }}
),

invoices as (
    {{ select_source_columns('stripe', 'invoices', ['id:string', '_dlt_id:string']) }}
),

lines as (
    {{ select_source_columns('stripe', 'invoices__lines__data', [
        '_dlt_parent_id:string', 'subscription:string', 'period__start:bigint',
        'period__end:bigint',
    ]) }}
),

periods as (
    select
        invoices.id,
        min(lines.period__start) as period_start,
        max(lines.period__end) as period_end
    from lines
    inner join invoices
        on lines._dlt_parent_id = invoices._dlt_id
    where lines.subscription is not null
    group by invoices.id
),

renamed as (
    select
        'stripe' as source_system,
        {{ make_key('stripe', 'source.id') }} as invoice_key,
        {{ make_key('stripe', "coalesce(nullif(source.subscription, ''), "
            ~ "nullif(source.parent__subscription_details__subscription, ''))") }}
            as subscription_key,
        lower(coalesce(source.billing_reason, 'manual')) as billing_reason,
        cast(coalesce(source.attempt_count, 0) as {{ dbt.type_int() }}) as attempt_count,
        {{ unix_to_timestamp('source.next_payment_attempt') }} as next_payment_attempt_at,
        {{ unix_to_timestamp('periods.period_start') }} as service_period_start_at,
        {{ unix_to_timestamp('periods.period_end') }} as service_period_end_at
    from source
    left join periods
        on source.id = periods.id
),

final as (
    {{ select_canonical('invoice_billing') }}
)

select * from final
