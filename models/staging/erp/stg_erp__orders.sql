with source as (
    {{ select_source_columns('erp', 'orders', [
        'order_no:string', 'order_date:timestamptz',
        'crm:string', 'crm_account_id:string', 'crm_opportunity_id:string',
        'net_amount:float', 'currency:string', 'status:string',
        'fulfilment_date:timestamptz', 'changed_on:timestamptz',
    ]) }}
),

renamed as (
    select
        'erp' as source_system,
        {{ make_key('erp', 'order_no') }} as order_key,
        order_no as order_id,
        {{ make_key_expr("lower(trim(crm))", "nullif(trim(crm_opportunity_id), '')") }}
            as deal_key,
        {{ make_key_expr("lower(trim(crm))", "nullif(trim(crm_account_id), '')") }}
            as account_key,
        cast(null as {{ dbt.type_string() }}) as owner_user_key,
        order_no as order_number,
        lower(trim(status)) as status,
        net_amount as amount,
        upper(trim(currency)) as currency,
        {{ to_utc_timestamp('order_date') }} as created_at,
        {{ to_utc_timestamp('fulfilment_date') }} as fulfilled_at,
        coalesce(
            {{ to_utc_timestamp('changed_on') }},
            {{ to_utc_timestamp('fulfilment_date') }},
            {{ to_utc_timestamp('order_date') }}
        ) as updated_at
    from source
),

final as (
    {{ select_canonical('orders') }}
)

select * from final
