-- Unlinked invoices are counted in mart invoices but never appear in the event log.
with invoices as (
    select * from {{ ref('invoices') }}
),

event_log as (
    select * from {{ ref('event_log') }}
),

final as (
    select
        event_log.event_id,
        event_log.object_id
    from event_log
    inner join invoices
        on event_log.object_id = invoices.invoice_key
    where not invoices.is_linked
)

select * from final
