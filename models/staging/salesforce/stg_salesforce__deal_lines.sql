-- Opportunity products (OpportunityLineItem): the lines of the synced quote, kept on the
-- opportunity. list = ListPrice * Quantity, net = TotalPrice (after the line discount). A
-- deal-level discount line (negative price, list price 0) lowers net and raises discount.
with source as (
    {{ select_source_columns('salesforce', 'opportunity_line_items', [
        'id:string', 'opportunity_id:string', 'product2_id:string', 'product2__name:string',
        'quantity:float', 'list_price:float', 'unit_price:float', 'total_price:float',
        'currency_iso_code:string', 'created_date:timestamptz',
    ]) }}
),

amounts as (
    select
        *,
        coalesce(list_price, unit_price, 0) * coalesce(quantity, 1) as list_amount_calc,
        coalesce(total_price, coalesce(unit_price, 0) * coalesce(quantity, 1))
            as net_amount_calc
    from source
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as deal_line_key,
        id as deal_line_id,
        {{ make_key('salesforce', 'opportunity_id') }} as deal_key,
        {{ make_key('salesforce', 'product2_id') }} as product_key,
        product2__name as product_name,
        quantity,
        unit_price,
        list_amount_calc as list_amount,
        net_amount_calc as net_amount,
        list_amount_calc - net_amount_calc as discount_amount,
        upper(currency_iso_code) as currency,
        {{ to_utc_timestamp('created_date') }} as created_at
    from amounts
),

final as (
    {{ select_canonical('deal_lines') }}
)

select * from final
