-- Collection family, for invoices linked to a deal: Payment Failed per failed payment attempt,
-- Refund Issued per refund of one of the invoice's payments (or naming the invoice itself when
-- the system does not name the payment), Credit Note Issued per credit note of the invoice.
with invoices as (
    select * from {{ ref('int_invoices_linked') }}
    where deal_key is not null
),

failures as (
    select
        failures.*,
        invoices.deal_key
    from {{ ref('int_payment_failures_unioned') }} as failures
    inner join invoices
        on
            failures.invoice_key = invoices.invoice_key
            and failures.source_system = invoices.source_system
),

refunds as (
    select
        refunds.*,
        invoices.deal_key
    from {{ ref('int_refunds_unioned') }} as refunds
    left join {{ ref('int_payments_unioned') }} as payments
        on
            refunds.payment_key = payments.payment_key
            and refunds.source_system = payments.source_system
    inner join invoices
        on
            -- the refunded payment's invoice, else the invoice the refund names (Certinia)
            coalesce(payments.invoice_key, refunds.invoice_key) = invoices.invoice_key
            and refunds.source_system = invoices.source_system
),

credit_notes as (
    select
        notes.*,
        invoices.deal_key
    from {{ ref('int_credit_notes_unioned') }} as notes
    inner join invoices
        on
            notes.invoice_key = invoices.invoice_key
            and notes.source_system = invoices.source_system
),

final as (
    {{ timestamp_events('failures', 'payment', 'payment_key', 'payment_id', [
        ['Payment Failed', 'failed_at', 'amount'],
    ]) }}
    union all
    {{ timestamp_events('refunds', 'refund', 'refund_key', 'refund_id', [
        ['Refund Issued', 'refunded_at', 'amount'],
    ]) }}
    union all
    {{ timestamp_events('credit_notes', 'credit_note', 'credit_note_key', 'credit_note_id', [
        ['Credit Note Issued', 'issued_at', 'amount'],
    ]) }}
)

select * from final
