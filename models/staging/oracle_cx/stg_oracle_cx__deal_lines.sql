-- Revenue lines (ChildRevenue). list = UnitPrice * Quantity, net = RevnAmount (the line's
-- revenue after its discount). Deal-level discounts arrive as lines of the Discounts product
-- group (UnitPrice 0, negative RevnAmount), so they count as discount, not as list amount.
with source as (
    {{ select_source_columns('oracle_cx', 'revenue_items', [
        'revn_id:bigint', 'opty_id:bigint', 'inventory_item_id:bigint', 'description:string',
        'quantity:float', 'unit_price:float', 'revn_amount:float',
        'revn_amount_curcy_code:string', 'creation_date:timestamptz',
    ]) }}
),

amounts as (
    select
        *,
        coalesce(unit_price, 0) * coalesce(quantity, 1) as list_amount_calc
    from source
),

renamed as (
    select
        'oracle_cx' as source_system,
        {{ make_key('oracle_cx', 'revn_id') }} as deal_line_key,
        cast(revn_id as {{ dbt.type_string() }}) as deal_line_id,
        {{ make_key('oracle_cx', 'opty_id') }} as deal_key,
        {{ make_key('oracle_cx', 'inventory_item_id') }} as product_key,
        description as product_name,
        quantity,
        unit_price,
        list_amount_calc as list_amount,
        coalesce(revn_amount, list_amount_calc) as net_amount,
        list_amount_calc - coalesce(revn_amount, list_amount_calc) as discount_amount,
        upper(revn_amount_curcy_code) as currency,
        {{ to_utc_timestamp('creation_date') }} as created_at
    from amounts
),

final as (
    {{ select_canonical('deal_lines') }}
)

select * from final
