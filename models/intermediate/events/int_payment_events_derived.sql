-- Payment family: Payment Received per successful payment of a linked invoice.
with payments as (
    select * from {{ ref('int_payments_unioned') }}
    where is_successful
),

invoices as (
    select * from {{ ref('int_invoices_linked') }}
    where deal_key is not null
),

final as (
    select
        invoices.deal_key as case_id,
        'Payment Received' as activity,
        payments.paid_at as event_at,
        'payment' as object_type,
        payments.payment_key as object_id,
        payments.source_system,
        payments.payment_id as source_row_id,
        cast(null as {{ dbt.type_string() }}) as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        payments.amount,
        payments.currency
    from payments
    inner join invoices
        on
            payments.invoice_key = invoices.invoice_key
            and payments.source_system = invoices.source_system
    where payments.paid_at is not null
)

select * from final
