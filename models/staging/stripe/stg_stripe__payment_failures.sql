{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only the failed charges, by design
-- Failed Stripe payment attempts: charges with status failed, with Stripe's failure_code
-- (card_declined, insufficient_funds, expired_card, ...). An automatic retry is a new charge.
with source as (
    {{ select_source_columns('stripe', 'charges', [
        'id:string', 'amount:bigint', 'currency:string', 'created:bigint', 'customer:string',
        'invoice:string', 'status:string', 'failure_code:string', 'failure_message:string',
    ]) }}
),

renamed as (
    select
        'stripe' as source_system,
        {{ make_key('stripe', 'id') }} as payment_key,
        id as payment_id,
        {{ make_key('stripe', 'invoice') }} as invoice_key,
        {{ make_key('stripe', 'customer') }} as customer_key,
        {{ minor_to_major('amount') }} as amount,
        upper(currency) as currency,
        lower(coalesce(failure_code, 'unknown')) as failure_code,
        failure_message,
        {{ unix_to_timestamp('created') }} as failed_at
    from source
    where lower(status) = 'failed'
),

final as (
    {{ select_canonical('payment_failures') }}
)

select * from final
