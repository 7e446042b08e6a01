-- Stripe refunds of charges, with Stripe's reason (duplicate, fraudulent,
-- requested_by_customer, expired_uncaptured_charge; null when none was given).
with source as (
    {{ select_source_columns('stripe', 'refunds', [
        'id:string', 'charge:string', 'amount:bigint', 'currency:string', 'created:bigint',
        'reason:string', 'status:string',
    ]) }}
),

renamed as (
    select
        'stripe' as source_system,
        {{ make_key('stripe', 'id') }} as refund_key,
        id as refund_id,
        {{ make_key('stripe', 'charge') }} as payment_key,
        {{ minor_to_major('amount') }} as amount,
        upper(currency) as currency,
        lower(coalesce(reason, 'unspecified')) as reason,
        lower(status) as status,
        {{ unix_to_timestamp('created') }} as refunded_at,
        -- the invoice is reached through the refunded charge (payment_key)
        cast(null as {{ dbt.type_string() }}) as invoice_key,
        -- a Stripe refund pays a charge back, not a credit note
        cast(null as {{ dbt.type_string() }}) as credit_note_key
    from source
),

final as (
    {{ select_canonical('refunds') }}
)

select * from final
