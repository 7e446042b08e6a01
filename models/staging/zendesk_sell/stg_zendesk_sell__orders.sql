-- Zendesk Sell orders (the sales order of a deal). amount / currency were computed by the
-- loader from the order's line items less its percent discount. Zendesk Sell orders have no
-- status and no fulfilment date: both stay null.
with source as (
    {{ select_source_columns('zendesk_sell', 'orders', [
        'id:bigint', 'deal_id:bigint', 'amount:float', 'currency:string',
        'created_at:timestamptz', 'updated_at:timestamptz',
    ]) }}
),

renamed as (
    select
        'zendesk_sell' as source_system,
        {{ make_key('zendesk_sell', 'id') }} as order_key,
        cast(id as {{ dbt.type_string() }}) as order_id,
        {{ make_key('zendesk_sell', 'deal_id') }} as deal_key,
        cast(null as {{ dbt.type_string() }}) as account_key,
        cast(null as {{ dbt.type_string() }}) as owner_user_key,
        cast(id as {{ dbt.type_string() }}) as order_number,
        cast(null as {{ dbt.type_string() }}) as status,
        amount,
        upper(currency) as currency,
        {{ to_utc_timestamp('created_at') }} as created_at,
        cast(null as {{ dbt.type_timestamp() }}) as fulfilled_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at
    from source
),

final as (
    {{ select_canonical('orders') }}
)

select * from final
