-- Refunds and credit notes by reason, at the as-of instant. One row per (source_system,
-- document_type, reason) with at least one document: document_type refund (a payment's money
-- returned; its invoice is the payment's, else the one the refund names; its reason its own,
-- else the credit note's it pays back: int_refunds_reasoned) or credit_note (an issued, not
-- voided, credit against a finalized invoice; reasons canonical: macro credit_note_reasons).
-- Amounts in var reporting_currency at the rate of the invoice's creation date.
-- amount_rate = amount / the base of its type: refunds over the successful payments, credit
-- notes over the totals of the finalized non-void invoices (both by as_of, per system).
-- share_of_type = documents_count / all documents of the type.
with invoices as (
    select * from {{ ref('int_invoices_settled') }}
),

all_payments as (
    select * from {{ ref('int_payments_unioned') }}
),

payments as (
    select * from all_payments
    where is_successful
),

refunds as (
    select * from {{ ref('int_refunds_reasoned') }}
    where status is distinct from 'failed' and status is distinct from 'canceled'
),

credit_notes as (
    select * from {{ ref('int_credit_notes_unioned') }}
    where status = 'issued'
),

documents as (
    select
        refunds.source_system,
        'refund' as document_type,
        refunds.reason,
        invoices.rate_to_reporting is null as is_fx_missing,
        {{ convert_minor_units(to_minor_units('refunds.amount'), 'invoices.rate_to_reporting') }}
            as amount_reporting_minor
    from refunds
    left join all_payments
        on
            refunds.payment_key = all_payments.payment_key
            and refunds.source_system = all_payments.source_system
    inner join invoices
        on
            -- the refunded payment's invoice, else the invoice the refund names (Certinia)
            coalesce(all_payments.invoice_key, refunds.invoice_key) = invoices.invoice_key
            and refunds.source_system = invoices.source_system
    where refunds.refunded_at <= invoices.as_of
    union all
    select
        credit_notes.source_system,
        'credit_note' as document_type,
        credit_notes.reason,
        invoices.rate_to_reporting is null as is_fx_missing,
        {{ convert_minor_units(
            to_minor_units('credit_notes.amount'), 'invoices.rate_to_reporting'
        ) }} as amount_reporting_minor
    from credit_notes
    inner join invoices
        on
            credit_notes.invoice_key = invoices.invoice_key
            and credit_notes.source_system = invoices.source_system
    where credit_notes.issued_at <= invoices.as_of
),

bases as (
    select
        payments.source_system,
        'refund' as document_type,
        {{ unless_fx_missing(
            'sum(' ~ convert_minor_units(to_minor_units('payments.amount'),
                'invoices.rate_to_reporting') ~ ')',
            'invoices.rate_to_reporting is null'
        ) }} as base_minor
    from payments
    inner join invoices
        on
            payments.invoice_key = invoices.invoice_key
            and payments.source_system = invoices.source_system
    where payments.paid_at <= invoices.as_of
    group by payments.source_system
    union all
    select
        source_system,
        'credit_note' as document_type,
        {{ unless_fx_missing('sum(total_reporting_minor)', 'total_reporting_minor is null') }}
            as base_minor
    from invoices
    where not is_void and finalized_at <= as_of
    group by source_system
),

aggregated as (
    select
        source_system,
        document_type,
        reason,
        count(*) as documents_count,
        {{ unless_fx_missing('sum(amount_reporting_minor)', 'is_fx_missing') }} as amount_minor
    from documents
    group by source_system, document_type, reason
),

shares as (
    select
        aggregated.*,
        bases.base_minor,
        sum(aggregated.documents_count) over (
            partition by aggregated.source_system, aggregated.document_type
        ) as type_documents_count
    from aggregated
    left join bases
        on
            aggregated.source_system = bases.source_system
            and aggregated.document_type = bases.document_type
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(document_type as {{ dbt.type_string() }}) as document_type,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(documents_count as {{ dbt.type_bigint() }}) as documents_count,
        cast({{ from_minor_units('amount_minor') }} as {{ type_double() }}) as amount_reporting,
        cast({{ safe_ratio('documents_count', 'type_documents_count') }} as {{ type_double() }})
            as share_of_type,
        cast({{ safe_ratio('amount_minor', 'base_minor') }} as {{ type_double() }})
            as amount_rate,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency
    from shares
)

select * from final
