-- Certinia sales credit notes (c2g__codaCreditNote__c) against an invoice, with their reason:
-- the picklist c2g__CreditNoteReason__c mapped to the canonical credit-note reasons (macro
-- credit_note_reasons: Stripe's, plus goodwill) by var certinia_credit_note_reasons (picklist
-- value -> reason; the default maps the values of the demo org); 'unspecified' when empty; a
-- value the var does not map stays as given (lower-cased) and is reported
-- (data_quality_issues credit_note_reason_unmapped). issued_at = the creation of the note; a
-- Discarded note is void.
{%- set reasons = var('certinia_credit_note_reasons', {
    'pricing error': 'order_change',
    'returned goods': 'order_change',
    'service issue': 'product_unsatisfactory',
    'goodwill': 'goodwill',
}) %}

with source as (
    {{ select_source_columns('certinia', 'credit_notes', [
        'id:string', 'name:string', 'c2g__account__c:string', 'c2g__invoice__c:string',
        'c2g__credit_note_status__c:string', 'c2g__credit_note_reason__c:string',
        'c2g__credit_note_total__c:float', 'currency_iso_code:string',
        'created_date:timestamptz', 'last_modified_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'certinia' as source_system,
        {{ make_key('certinia', 'id') }} as credit_note_key,
        id as credit_note_id,
        {{ make_key('certinia', 'c2g__invoice__c') }} as invoice_key,
        {{ make_key('certinia', 'c2g__account__c') }} as customer_key,
        name as credit_note_number,
        -- the note has no type field: whether it credits an unpaid invoice (pre_payment) or a
        -- paid one (post_payment, e.g. before a refund) is left unknown, not guessed
        cast(null as {{ dbt.type_string() }}) as credit_note_type,
        c2g__credit_note_total__c as amount,
        upper(currency_iso_code) as currency,
        {{ map_credit_note_reason('c2g__credit_note_reason__c', reasons) }} as reason,
        case
            when c2g__credit_note_status__c = 'Discarded' then 'void'
            else 'issued'
        end as status,
        {{ to_utc_timestamp('created_date') }} as issued_at,
        case
            when c2g__credit_note_status__c = 'Discarded'
                then {{ to_utc_timestamp('last_modified_date') }}
        end as voided_at
    from source
),

final as (
    {{ select_canonical('credit_notes') }}
)

select * from final
