-- Orders (Order): created as Draft; activation (ActivatedDate) is the fulfilment.
with source as (
    {{ select_source_columns('salesforce', 'orders', [
        'id:string', 'order_number:string', 'opportunity_id:string', 'account_id:string',
        'owner_id:string', 'status:string', 'total_amount:float', 'currency_iso_code:string',
        'created_date:timestamptz', 'activated_date:timestamptz',
        'last_modified_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as order_key,
        id as order_id,
        {{ make_key('salesforce', 'opportunity_id') }} as deal_key,
        {{ make_key('salesforce', 'account_id') }} as account_key,
        {{ make_key('salesforce', 'owner_id') }} as owner_user_key,
        order_number,
        lower(status) as status,
        total_amount as amount,
        upper(currency_iso_code) as currency,
        {{ to_utc_timestamp('created_date') }} as created_at,
        {{ to_utc_timestamp('activated_date') }} as fulfilled_at,
        {{ to_utc_timestamp('last_modified_date') }} as updated_at
    from source
),

final as (
    {{ select_canonical('orders') }}
)

select * from final
