-- Contracts (Contract). The org creates a contract when it sends it for signature
-- (CreatedDate / CreatedById = sent) and activates it when the customer has signed
-- (ActivatedDate / ActivatedById = signed; CustomerSignedDate holds the date only). The
-- opportunity is the org's custom lookup Opportunity__c.
with source as (
    {{ select_source_columns('salesforce', 'contracts', [
        'id:string', 'account_id:string', 'opportunity__c:string', 'status:string',
        'created_date:timestamptz', 'created_by_id:string', 'activated_date:timestamptz',
        'activated_by_id:string', 'system_modstamp:timestamptz',
    ]) }}
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as contract_key,
        id as contract_id,
        {{ make_key('salesforce', 'opportunity__c') }} as deal_key,
        {{ make_key('salesforce', 'account_id') }} as account_key,
        lower(status) as status,
        {{ to_utc_timestamp('created_date') }} as sent_at,
        {{ make_key('salesforce', 'created_by_id') }} as sent_by_user_key,
        {{ to_utc_timestamp('activated_date') }} as signed_at,
        {{ make_key('salesforce', 'activated_by_id') }} as signed_by_user_key,
        {{ to_utc_timestamp('system_modstamp') }} as updated_at
    from source
),

final as (
    {{ select_canonical('contracts') }}
)

select * from final
