-- Canonical invoices of every registered system (var l2c_systems) that provides them.
-- A system that records write-offs as rows of their own (canonical invoice_write_offs, e.g.
-- Certinia's cash matching with a write-off value) settles the invoice in its books: the
-- invoice then looks paid. Here it is what Stripe calls marked uncollectible: uncollectible_at
-- = its last write-off, the written-off value moves from amount_paid back to amount_remaining
-- (what was never collected), and when the write-off is what settled it (no payment after the
-- write-off) it is not paid: paid_at null, status uncollectible.
with unioned as (
    {{ union_canonical('invoices') }}
),

invoice_write_offs as (
    {{ union_canonical('invoice_write_offs') }}
),

write_offs as (
    select
        source_system,
        invoice_key,
        max(written_off_at) as written_off_at,
        sum(amount) as written_off_amount
    from invoice_write_offs
    group by source_system, invoice_key
),

flagged as (
    select
        unioned.*,
        write_offs.written_off_at,
        coalesce(write_offs.written_off_amount, 0) as written_off_amount,
        write_offs.written_off_at is not null
        and (
            unioned.paid_at is null or unioned.paid_at <= write_offs.written_off_at
        ) as is_settled_by_write_off
    from unioned
    left join write_offs
        on
            unioned.invoice_key = write_offs.invoice_key
            and unioned.source_system = write_offs.source_system
),

settled as (
    select
        *,
        case
            when is_settled_by_write_off and status in ('paid', 'open') then 'uncollectible'
            else status
        end as settled_status,
        amount_paid - written_off_amount as settled_amount_paid,
        amount_remaining + written_off_amount as settled_amount_remaining,
        case when not is_settled_by_write_off then paid_at end as settled_paid_at,
        coalesce(uncollectible_at, written_off_at) as settled_uncollectible_at
    from flagged
),

final as (
    select
        invoice_key,
        invoice_id,
        source_system,
        customer_key,
        crm_deal_key,
        invoice_number,
        settled_status as status,
        collection_method,
        currency,
        subtotal,
        total,
        amount_due,
        settled_amount_paid as amount_paid,
        settled_amount_remaining as amount_remaining,
        created_at,
        due_at,
        finalized_at,
        settled_paid_at as paid_at,
        voided_at,
        settled_uncollectible_at as uncollectible_at
    from settled
)

select * from final
