-- Dunning and disputes, for invoices linked to a deal: Payment Retried per payment attempt
-- (failed or successful) after the invoice's first failed attempt (Stripe's automatic
-- retries are new charges of the same invoice); Dispute Opened (opened_at) and Dispute Closed
-- (closed_at, when the system shows it) per dispute of one of the invoice's payments; Reminder
-- Sent (sent_at) per payment reminder of the invoice.
with invoices as (
    select * from {{ ref('int_invoices_linked') }}
    where deal_key is not null
),

payments as (
    select * from {{ ref('int_payments_unioned') }}
),

first_failures as (
    select
        source_system,
        invoice_key,
        min(failed_at) as first_failed_at
    from {{ ref('int_payment_failures_unioned') }}
    group by source_system, invoice_key
),

retries as (
    select
        payments.*,
        invoices.deal_key
    from payments
    inner join first_failures
        on
            payments.invoice_key = first_failures.invoice_key
            and payments.source_system = first_failures.source_system
    inner join invoices
        on
            payments.invoice_key = invoices.invoice_key
            and payments.source_system = invoices.source_system
    where payments.paid_at > first_failures.first_failed_at
),

disputes as (
    select
        disputes.*,
        invoices.deal_key
    from {{ ref('int_disputes_unioned') }} as disputes
    inner join payments
        on
            disputes.payment_key = payments.payment_key
            and disputes.source_system = payments.source_system
    inner join invoices
        on
            payments.invoice_key = invoices.invoice_key
            and payments.source_system = invoices.source_system
),

reminders as (
    select
        reminders.*,
        invoices.deal_key
    from {{ ref('int_invoice_reminders_unioned') }} as reminders
    inner join invoices
        on
            reminders.invoice_key = invoices.invoice_key
            and reminders.source_system = invoices.source_system
),

final as (
    {{ timestamp_events('retries', 'payment', 'payment_key', 'payment_id', [
        ['Payment Retried', 'paid_at', 'amount'],
    ]) }}
    union all
    {{ timestamp_events('disputes', 'dispute', 'dispute_key', 'dispute_id', [
        ['Dispute Opened', 'opened_at', 'amount'],
        ['Dispute Closed', 'closed_at', 'amount'],
    ]) }}
    union all
    {{ timestamp_events('reminders', 'invoice', 'invoice_key', 'invoice_reminder_id', [
        ['Reminder Sent', 'sent_at', none],
    ], currency='cast(null as ' ~ dbt.type_string() ~ ')') }}
)

select * from final
