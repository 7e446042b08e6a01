{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only the reminder emails, by design
-- Payment reminders of Stripe invoices, from the `invoice.sent` events the loader keeps (the
-- Events API holds 30 days: an email older than that at a load is not seen). Stripe emails a
-- send_invoice invoice when it is finalized and again for each reminder (and each manual
-- re-send, which the event does not tell apart): every invoice email more than an hour after
-- the invoice's finalization counts as a reminder. No object records these emails.
with events as (
    {{ select_source_columns('stripe', 'events', [
        'id:string', 'type:string', 'created:bigint', 'data__object__id:string',
    ]) }}
),

invoices as (
    {{ select_source_columns('stripe', 'invoices', [
        'id:string', 'status_transitions__finalized_at:bigint',
    ]) }}
),

renamed as (
    select
        'stripe' as source_system,
        {{ make_key('stripe', 'events.id') }} as invoice_reminder_key,
        events.id as invoice_reminder_id,
        {{ make_key('stripe', 'events.data__object__id') }} as invoice_key,
        'email' as channel,
        {{ unix_to_timestamp('events.created') }} as sent_at
    from events
    inner join invoices
        on events.data__object__id = invoices.id
    where
        events.type = 'invoice.sent'
        and events.created > invoices.status_transitions__finalized_at + 3600
),

final as (
    {{ select_canonical('invoice_reminders') }}
)

select * from final
