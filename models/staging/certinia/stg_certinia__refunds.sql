-- Certinia refunds: cash matching history rows (c2g__codaCashMatchingHistory__c) that match a
-- cash entry of type Refund (money paid back) against a sales credit note
-- (c2g__CreditNote__c), as canonical refunds. Certinia does not name the payment a refund
-- returns (payment_key null): the refund names the credited invoice (invoice_key, the matching
-- row's c2g__Invoice__c in the demo's flat model). refunded_at = the matching's creation; an
-- Undo Match is canceled. The refund itself has no reason ('unspecified'): credit_note_key
-- names the credit note it pays back, whose reason int_refunds_reasoned gives the refund.
{{ config(meta={'keeps_raw_rows': false}) }}  -- only the matching rows of a refund
with source as (
    {{ select_source_columns('certinia', 'cash_matching_history', [
        'id:string', 'c2g__invoice__c:string', 'c2g__cash_entry__c:string',
        'c2g__credit_note__c:string', 'c2g__action__c:string', 'c2g__document_value__c:float',
        'currency_iso_code:string', 'created_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'certinia' as source_system,
        {{ make_key('certinia', 'id') }} as refund_key,
        id as refund_id,
        cast(null as {{ dbt.type_string() }}) as payment_key,
        {{ make_key('certinia', 'c2g__invoice__c') }} as invoice_key,
        abs(c2g__document_value__c) as amount,
        upper(currency_iso_code) as currency,
        'unspecified' as reason,
        case
            when coalesce(c2g__action__c, 'Match') = 'Match' then 'succeeded'
            else 'canceled'
        end as status,
        {{ to_utc_timestamp('created_date') }} as refunded_at,
        {{ make_key('certinia', 'c2g__credit_note__c') }} as credit_note_key
    from source
    where c2g__cash_entry__c is not null and c2g__credit_note__c is not null
),

final as (
    {{ select_canonical('refunds') }}
)

select * from final
