-- Certinia sales invoices (c2g__codaInvoice__c) as canonical invoices. The deal is the native
-- opportunity lookup (c2g__Opportunity__c, a Salesforce opportunity id); the customer is the
-- invoiced account (c2g__Account__c). A posted invoice (status Complete) is sent when it is
-- created; Discarded is void. Certinia keeps no paid date on the invoice: paid_at is the last
-- modification of an invoice whose payment status is Paid (the cash matching that settled
-- it). amount_paid = total - outstanding value (cash and credit notes matched to it).
with source as (
    {{ select_source_columns('certinia', 'sales_invoices', [
        'id:string', 'name:string', 'c2g__account__c:string', 'c2g__opportunity__c:string',
        'c2g__due_date__c:string', 'c2g__invoice_status__c:string',
        'c2g__payment_status__c:string', 'c2g__invoice_total__c:float',
        'c2g__net_total__c:float', 'c2g__outstanding_value__c:float',
        'currency_iso_code:string', 'created_date:timestamptz',
        'last_modified_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'certinia' as source_system,
        {{ make_key('certinia', 'id') }} as invoice_key,
        id as invoice_id,
        {{ make_key('certinia', 'c2g__account__c') }} as customer_key,
        {{ make_key('salesforce', 'c2g__opportunity__c') }} as crm_deal_key,
        name as invoice_number,
        case
            when c2g__invoice_status__c = 'Discarded' then 'void'
            when c2g__invoice_status__c = 'In Progress' then 'draft'
            when c2g__payment_status__c = 'Paid' then 'paid'
            else 'open'
        end as status,
        'send_invoice' as collection_method,
        upper(currency_iso_code) as currency,
        coalesce(c2g__net_total__c, c2g__invoice_total__c) as subtotal,
        c2g__invoice_total__c as total,
        c2g__invoice_total__c as amount_due,
        c2g__invoice_total__c - coalesce(c2g__outstanding_value__c, 0) as amount_paid,
        coalesce(c2g__outstanding_value__c, 0) as amount_remaining,
        {{ to_utc_timestamp('created_date') }} as created_at,
        cast(
            {{ text_to_date("nullif(trim(c2g__due_date__c), '')") }}
            as {{ dbt.type_timestamp() }}
        ) as due_at,
        case
            when c2g__invoice_status__c = 'Complete' then {{ to_utc_timestamp('created_date') }}
        end as finalized_at,
        case
            when c2g__payment_status__c = 'Paid'
                then {{ to_utc_timestamp('last_modified_date') }}
        end as paid_at,
        case
            when c2g__invoice_status__c = 'Discarded'
                then {{ to_utc_timestamp('last_modified_date') }}
        end as voided_at,
        cast(null as {{ dbt.type_timestamp() }}) as uncollectible_at
    from source
),

final as (
    {{ select_canonical('invoices') }}
)

select * from final
