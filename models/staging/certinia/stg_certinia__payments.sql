-- Certinia cash matched to sales invoices (c2g__codaCashMatchingHistory__c, action Match) as
-- canonical payments: the cash counts for an invoice when the finance team matches it
-- (paid_at = the matching's creation), which can be days after the cash entry's date.
-- An Undo Match row is not a successful payment. A write-off without cash (no cash entry) is
-- no payment: stg_certinia__invoice_write_offs reads it. Refund cash matched to a credit note
-- is no payment either: stg_certinia__refunds reads it.
{{ config(meta={'keeps_raw_rows': false}) }}  -- write-offs without cash, refunds: left out
with source as (
    {{ select_source_columns('certinia', 'cash_matching_history', [
        'id:string', 'c2g__account__c:string', 'c2g__invoice__c:string',
        'c2g__cash_entry__c:string', 'c2g__credit_note__c:string', 'c2g__action__c:string', 'c2g__document_value__c:float', 'currency_iso_code:string',
        'created_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'certinia' as source_system,
        {{ make_key('certinia', 'id') }} as payment_key,
        id as payment_id,
        {{ make_key('certinia', 'c2g__invoice__c') }} as invoice_key,
        {{ make_key('certinia', 'c2g__account__c') }} as customer_key,
        abs(c2g__document_value__c) as amount,
        cast(0 as {{ type_double() }}) as amount_refunded,
        upper(currency_iso_code) as currency,
        lower(coalesce(c2g__action__c, 'match')) as status,
        coalesce(c2g__action__c, 'Match') = 'Match' as is_successful,
        {{ to_utc_timestamp('created_date') }} as paid_at
    from source
    where c2g__cash_entry__c is not null and c2g__credit_note__c is null
),

final as (
    {{ select_canonical('payments') }}
)

select * from final
