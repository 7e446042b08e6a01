-- The accounts Certinia invoices (c2g__Account__c) as canonical customers. Certinia has no
-- customer object of its own: the customer is the Salesforce Account itself, so its CRM
-- account key is the same id. Name, email and country live on the Account (CRM side).
-- created_at = its first invoice. Grain: one row per invoiced account.
{{ config(meta={'keeps_raw_rows': false}) }}  -- one row per invoiced account, by design
with source as (
    {{ select_source_columns('certinia', 'sales_invoices', [
        'c2g__account__c:string', 'currency_iso_code:string', 'created_date:timestamptz',
    ]) }}
),

accounts as (
    select
        c2g__account__c as account_id,
        min(upper(currency_iso_code)) as currency,
        min(created_date) as first_invoiced_at
    from source
    where c2g__account__c is not null
    group by c2g__account__c
),

renamed as (
    select
        'certinia' as source_system,
        {{ make_key('certinia', 'account_id') }} as customer_key,
        account_id as customer_id,
        cast(null as {{ dbt.type_string() }}) as customer_name,
        cast(null as {{ dbt.type_string() }}) as email,
        currency,
        cast(null as {{ dbt.type_string() }}) as country,
        {{ make_key('salesforce', 'account_id') }} as crm_account_key,
        {{ to_utc_timestamp('first_invoiced_at') }} as created_at
    from accounts
),

final as (
    {{ select_canonical('customers') }}
)

select * from final
