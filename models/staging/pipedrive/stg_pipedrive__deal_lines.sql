-- Deal product lines. list = item_price * quantity; net = `sum` (after the line discount)
-- or, when the loader did not deliver it, recomputed from discount / discount_type.
with source as (
    {{ select_source_columns('pipedrive', 'deal_products', [
        'id:bigint', 'deal_id:bigint', 'product_id:bigint', 'name:string',
        'item_price:float', 'quantity:float', 'discount:float', 'discount_type:string',
        'sum:float:net_sum', 'currency:string', 'add_time:timestamptz',
    ]) }}
),

amounts as (
    select
        *,
        coalesce(item_price, 0) * coalesce(quantity, 1) as list_amount_calc,
        case
            when lower(discount_type) = 'amount'
                then coalesce(item_price, 0) * coalesce(quantity, 1) - coalesce(discount, 0)
            else
                coalesce(item_price, 0) * coalesce(quantity, 1)
                * (1 - coalesce(discount, 0) / 100.0)
        end as net_amount_calc
    from source
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id') }} as deal_line_key,
        cast(id as {{ dbt.type_string() }}) as deal_line_id,
        {{ make_key('pipedrive', 'deal_id') }} as deal_key,
        {{ make_key('pipedrive', 'product_id') }} as product_key,
        name as product_name,
        quantity,
        item_price as unit_price,
        list_amount_calc as list_amount,
        coalesce(net_sum, net_amount_calc) as net_amount,
        list_amount_calc - coalesce(net_sum, net_amount_calc) as discount_amount,
        upper(currency) as currency,
        {{ to_utc_timestamp('add_time') }} as created_at
    from amounts
),

final as (
    {{ select_canonical('deal_lines') }}
)

select * from final
