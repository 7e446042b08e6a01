-- Deal product lines from the order line items (Zendesk Sell keeps a deal's products in its
-- order). list = price * quantity, net = value * quantity (value is the unit price after the
-- line's variation), discount = list - net. The order's percent discount is a deal-level
-- discount (stg_zendesk_sell__deal_discounts).
with source as (
    {{ select_source_columns('zendesk_sell', 'order_line_items', [
        'id:bigint', 'deal_id:bigint', 'product_id:bigint', 'name:string', 'quantity:float',
        'price:float', 'value:float', 'currency:string', 'created_at:timestamptz',
    ]) }}
),

amounts as (
    select
        *,
        coalesce(price, 0) * coalesce(quantity, 1) as list_amount_calc,
        coalesce(value, price, 0) * coalesce(quantity, 1) as net_amount_calc
    from source
),

renamed as (
    select
        'zendesk_sell' as source_system,
        {{ make_key('zendesk_sell', 'id') }} as deal_line_key,
        cast(id as {{ dbt.type_string() }}) as deal_line_id,
        {{ make_key('zendesk_sell', 'deal_id') }} as deal_key,
        {{ make_key('zendesk_sell', 'product_id') }} as product_key,
        name as product_name,
        quantity,
        price as unit_price,
        list_amount_calc as list_amount,
        net_amount_calc as net_amount,
        list_amount_calc - net_amount_calc as discount_amount,
        upper(currency) as currency,
        {{ to_utc_timestamp('created_at') }} as created_at
    from amounts
),

final as (
    {{ select_canonical('deal_lines') }}
)

select * from final
