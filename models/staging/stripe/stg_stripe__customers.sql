with source as (
    {{ select_source_columns('stripe', 'customers', [
        'id:string', 'name:string', 'email:string', 'created:bigint', 'currency:string',
        'address__country:string',
    ] + metadata_column_specs('stripe_account_metadata_keys')) }}
),

renamed as (
    select
        'stripe' as source_system,
        {{ make_key('stripe', 'id') }} as customer_key,
        id as customer_id,
        {{ pseudonymise('name') }} as customer_name,
        {{ pseudonymise('lower(email)') }} as email,
        upper(currency) as currency,
        upper(address__country) as country,
        {{ crm_key_from_metadata('stripe_account_metadata_keys') }} as crm_account_key,
        {{ unix_to_timestamp('created') }} as created_at
    from source
),

final as (
    {{ select_canonical('customers') }}
)

select * from final
