-- Object-to-object relations (account -> lead / deal, lead -> deal -> quote / order,
-- deal -> invoice, invoice -> payment; after the sale: deal -> subscription -> invoice,
-- invoice -> failed payment attempt / credit note, payment (or invoice) -> refund),
-- kept apart from the log so it can be exported object-centric (OCEL 2.0) and re-cased.
-- source_system is the system of the record that carries the reference (the `to` object).
with leads as (
    select * from {{ ref('int_leads_classified') }}
),

deals as (
    select * from {{ ref('int_deals_filtered') }}
),

quotes as (
    select * from {{ ref('int_quotes_unioned') }}
),

invoices as (
    select * from {{ ref('int_invoices_linked') }}
),

orders as (
    select * from {{ ref('int_orders_unioned') }}
),

payments as (
    select * from {{ ref('int_payments_unioned') }}
    where is_successful
),

subscriptions as (
    select * from {{ ref('int_subscriptions_unioned') }}
),

billing as (
    select * from {{ ref('int_invoice_billing_unioned') }}
    where subscription_key is not null
),

payment_failures as (
    select * from {{ ref('int_payment_failures_unioned') }}
),

refunds as (
    select * from {{ ref('int_refunds_unioned') }}
),

credit_notes as (
    select * from {{ ref('int_credit_notes_unioned') }}
),

account_lead as (
    select
        'account' as from_object_type,
        leads.account_key as from_object_id,
        'lead' as to_object_type,
        leads.lead_key as to_object_id,
        'has_lead' as relation,
        leads.source_system,
        cast(null as {{ dbt.type_string() }}) as link_method
    from leads
    where leads.account_key is not null
),

account_deal as (
    select
        'account' as from_object_type,
        deals.account_key as from_object_id,
        'deal' as to_object_type,
        deals.deal_key as to_object_id,
        'has_deal' as relation,
        deals.source_system,
        cast(null as {{ dbt.type_string() }}) as link_method
    from deals
    where deals.account_key is not null
),

lead_deal as (
    select
        'lead' as from_object_type,
        leads.lead_key as from_object_id,
        'deal' as to_object_type,
        leads.converted_deal_key as to_object_id,
        'converted_to' as relation,
        leads.source_system,
        cast(null as {{ dbt.type_string() }}) as link_method
    from leads
    where leads.converted_deal_key is not null
),

deal_quote as (
    select
        'deal' as from_object_type,
        quotes.deal_key as from_object_id,
        'quote' as to_object_type,
        quotes.quote_key as to_object_id,
        'has_quote' as relation,
        quotes.source_system,
        cast(null as {{ dbt.type_string() }}) as link_method
    from quotes
    inner join deals
        on
            quotes.deal_key = deals.deal_key
            and quotes.source_system = deals.source_system
),

deal_invoice as (
    select
        'deal' as from_object_type,
        invoices.deal_key as from_object_id,
        'invoice' as to_object_type,
        invoices.invoice_key as to_object_id,
        'billed_by' as relation,
        invoices.source_system,
        invoices.link_method
    from invoices
    where invoices.deal_key is not null
),

deal_order as (
    select
        'deal' as from_object_type,
        orders.deal_key as from_object_id,
        'order' as to_object_type,
        orders.order_key as to_object_id,
        'ordered_as' as relation,
        orders.source_system,
        cast(null as {{ dbt.type_string() }}) as link_method
    from orders
    inner join deals
        on orders.deal_key = deals.deal_key
),

invoice_payment as (
    select
        'invoice' as from_object_type,
        invoices.invoice_key as from_object_id,
        'payment' as to_object_type,
        payments.payment_key as to_object_id,
        'paid_by' as relation,
        payments.source_system,
        cast(null as {{ dbt.type_string() }}) as link_method
    from payments
    inner join invoices
        on
            payments.invoice_key = invoices.invoice_key
            and payments.source_system = invoices.source_system
),

deal_subscription as (
    select
        'deal' as from_object_type,
        deals.deal_key as from_object_id,
        'subscription' as to_object_type,
        subscriptions.subscription_key as to_object_id,
        'subscribed_as' as relation,
        subscriptions.source_system,
        cast(null as {{ dbt.type_string() }}) as link_method
    from subscriptions
    inner join deals
        on subscriptions.crm_deal_key = deals.deal_key
),

subscription_invoice as (
    select
        'subscription' as from_object_type,
        billing.subscription_key as from_object_id,
        'invoice' as to_object_type,
        billing.invoice_key as to_object_id,
        'billed_by' as relation,
        billing.source_system,
        cast(null as {{ dbt.type_string() }}) as link_method
    from billing
    inner join subscriptions
        on
            billing.subscription_key = subscriptions.subscription_key
            and billing.source_system = subscriptions.source_system
),

invoice_failed_payment as (
    select
        'invoice' as from_object_type,
        invoices.invoice_key as from_object_id,
        'payment' as to_object_type,
        payment_failures.payment_key as to_object_id,
        'attempted_by' as relation,
        payment_failures.source_system,
        cast(null as {{ dbt.type_string() }}) as link_method
    from payment_failures
    inner join invoices
        on
            payment_failures.invoice_key = invoices.invoice_key
            and payment_failures.source_system = invoices.source_system
),

payment_refund as (
    -- the refunded payment, else the invoice a refund names when it names no payment
    select
        case when refunds.payment_key is null then 'invoice' else 'payment' end
            as from_object_type,
        coalesce(refunds.payment_key, refunds.invoice_key) as from_object_id,
        'refund' as to_object_type,
        refunds.refund_key as to_object_id,
        'refunded_by' as relation,
        refunds.source_system,
        cast(null as {{ dbt.type_string() }}) as link_method
    from refunds
    where coalesce(refunds.payment_key, refunds.invoice_key) is not null
),

invoice_credit_note as (
    select
        'invoice' as from_object_type,
        invoices.invoice_key as from_object_id,
        'credit_note' as to_object_type,
        credit_notes.credit_note_key as to_object_id,
        'credited_by' as relation,
        credit_notes.source_system,
        cast(null as {{ dbt.type_string() }}) as link_method
    from credit_notes
    inner join invoices
        on
            credit_notes.invoice_key = invoices.invoice_key
            and credit_notes.source_system = invoices.source_system
),

relations as (
    select * from account_lead
    union all
    select * from account_deal
    union all
    select * from lead_deal
    union all
    select * from deal_quote
    union all
    select * from deal_invoice
    union all
    select * from deal_order
    union all
    select * from invoice_payment
    union all
    select * from deal_subscription
    union all
    select * from subscription_invoice
    union all
    select * from invoice_failed_payment
    union all
    select * from payment_refund
    union all
    select * from invoice_credit_note
),

identified as (
    select
        *,
        {{ stable_id(['from_object_id', 'relation', 'to_object_id']) }} as relation_id
    from relations
),

final as (
    select
        cast(relation_id as {{ dbt.type_string() }}) as relation_id,
        cast(from_object_type as {{ dbt.type_string() }}) as from_object_type,
        cast(from_object_id as {{ dbt.type_string() }}) as from_object_id,
        cast(to_object_type as {{ dbt.type_string() }}) as to_object_type,
        cast(to_object_id as {{ dbt.type_string() }}) as to_object_id,
        cast(relation as {{ dbt.type_string() }}) as relation,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(link_method as {{ dbt.type_string() }}) as link_method
    from identified
)

select * from final
