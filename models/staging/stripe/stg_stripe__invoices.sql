with source as (
    {{ select_source_columns('stripe', 'invoices', [
        'id:string', 'customer:string', 'number:string', 'status:string',
        'collection_method:string', 'created:bigint', 'due_date:bigint', 'currency:string',
        'subtotal:bigint', 'total:bigint', 'amount_due:bigint', 'amount_paid:bigint',
        'amount_remaining:bigint', 'status_transitions__finalized_at:bigint',
        'status_transitions__paid_at:bigint', 'status_transitions__voided_at:bigint',
        'status_transitions__marked_uncollectible_at:bigint',
    ] + metadata_column_specs('stripe_deal_metadata_keys')) }}
),

renamed as (
    select
        'stripe' as source_system,
        {{ make_key('stripe', 'id') }} as invoice_key,
        id as invoice_id,
        {{ make_key('stripe', 'customer') }} as customer_key,
        {{ crm_key_from_metadata('stripe_deal_metadata_keys') }} as crm_deal_key,
        number as invoice_number,
        lower(status) as status,
        collection_method,
        upper(currency) as currency,
        {{ minor_to_major('subtotal') }} as subtotal,
        {{ minor_to_major('total') }} as total,
        {{ minor_to_major('amount_due') }} as amount_due,
        {{ minor_to_major('amount_paid') }} as amount_paid,
        {{ minor_to_major('amount_remaining') }} as amount_remaining,
        {{ unix_to_timestamp('created') }} as created_at,
        {{ unix_to_timestamp('due_date') }} as due_at,
        {{ unix_to_timestamp('status_transitions__finalized_at') }} as finalized_at,
        {{ unix_to_timestamp('status_transitions__paid_at') }} as paid_at,
        {{ unix_to_timestamp('status_transitions__voided_at') }} as voided_at,
        {{ unix_to_timestamp('status_transitions__marked_uncollectible_at') }}
            as uncollectible_at
    from source
),

final as (
    {{ select_canonical('invoices') }}
)

select * from final
