-- Stripe credit notes: an amount credited against a finalized invoice, with Stripe's reason
-- (duplicate, fraudulent, order_change, product_unsatisfactory; null when none was given).
-- issued_at = effective_at (the date on the note), else its creation.
with source as (
    {{ select_source_columns('stripe', 'credit_notes', [
        'id:string', 'number:string', 'invoice:string', 'customer:string', 'type:string',
        'amount:bigint', 'currency:string', 'reason:string', 'status:string',
        'created:bigint', 'effective_at:bigint', 'voided_at:bigint',
    ]) }}
),

renamed as (
    select
        'stripe' as source_system,
        {{ make_key('stripe', 'id') }} as credit_note_key,
        id as credit_note_id,
        {{ make_key('stripe', 'invoice') }} as invoice_key,
        {{ make_key('stripe', 'customer') }} as customer_key,
        number as credit_note_number,
        lower(type) as credit_note_type,
        {{ minor_to_major('amount') }} as amount,
        upper(currency) as currency,
        lower(coalesce(reason, 'unspecified')) as reason,
        lower(status) as status,
        {{ unix_to_timestamp('coalesce(effective_at, created)') }} as issued_at,
        {{ unix_to_timestamp('voided_at') }} as voided_at
    from source
),

final as (
    {{ select_canonical('credit_notes') }}
)

select * from final
