-- Invoice family for invoices linked to a deal: Invoice Created, Invoice Sent (finalized),
-- Invoice Voided, Invoice Paid, Invoice Written Off (marked uncollectible). Unlinked invoices
-- are not in the log.
with invoices as (
    select * from {{ ref('int_invoices_linked') }}
    where deal_key is not null
),

final as (
    {{ timestamp_events('invoices', 'invoice', 'invoice_key', 'invoice_id', [
        ['Invoice Created', 'created_at', 'total'],
        ['Invoice Sent', 'finalized_at', 'total'],
        ['Invoice Voided', 'voided_at', 'total'],
        ['Invoice Paid', 'paid_at', 'amount_paid'],
        ['Invoice Written Off', 'uncollectible_at', 'amount_remaining'],
    ]) }}
)

select * from final
