-- Certinia write-offs: cash matching history rows (c2g__codaCashMatchingHistory__c) that
-- write an invoice's outstanding value off (c2g__WriteOffValue__c > 0, an Undo Match excluded),
-- as canonical invoice write-offs. written_off_at = the matching's creation. Certinia then
-- shows the invoice as Paid with nothing outstanding; int_invoices_unioned turns that back
-- into an invoice marked uncollectible with the written-off value remaining.
{{ config(meta={'keeps_raw_rows': false}) }}  -- only the matching rows that write off
with source as (
    {{ select_source_columns('certinia', 'cash_matching_history', [
        'id:string', 'c2g__invoice__c:string', 'c2g__action__c:string',
        'c2g__write_off_value__c:float', 'currency_iso_code:string',
        'created_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'certinia' as source_system,
        {{ make_key('certinia', 'id') }} as invoice_write_off_key,
        id as invoice_write_off_id,
        {{ make_key('certinia', 'c2g__invoice__c') }} as invoice_key,
        c2g__write_off_value__c as amount,
        upper(currency_iso_code) as currency,
        {{ to_utc_timestamp('created_date') }} as written_off_at
    from source
    where
        c2g__write_off_value__c > 0
        and coalesce(c2g__action__c, 'Match') = 'Match'
        and c2g__invoice__c is not null
),

final as (
    {{ select_canonical('invoice_write_offs') }}
)

select * from final
