-- Stripe charges as canonical payments. A payment counts (is_successful) when the charge
-- succeeded, was paid and was not refunded.
with source as (
    {{ select_source_columns('stripe', 'charges', [
        'id:string', 'amount:bigint', 'amount_captured:bigint', 'amount_refunded:bigint',
        'currency:string', 'created:bigint', 'customer:string', 'invoice:string',
        'paid:boolean', 'status:string', 'refunded:boolean',
    ]) }}
),

renamed as (
    select
        'stripe' as source_system,
        {{ make_key('stripe', 'id') }} as payment_key,
        id as payment_id,
        {{ make_key('stripe', 'invoice') }} as invoice_key,
        {{ make_key('stripe', 'customer') }} as customer_key,
        {{ minor_to_major('coalesce(amount_captured, amount)') }} as amount,
        {{ minor_to_major('coalesce(amount_refunded, 0)') }} as amount_refunded,
        upper(currency) as currency,
        lower(status) as status,
        coalesce(
            lower(status) = 'succeeded'
            and coalesce(paid, true)
            and not coalesce(refunded, false),
            false
        ) as is_successful,
        {{ unix_to_timestamp('created') }} as paid_at
    from source
),

final as (
    {{ select_canonical('payments') }}
)

select * from final
