-- An order's whole-percent discount, as a deal-level percentage discount.
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
with source as (
    {{ select_source_columns('zendesk_sell', 'orders', [
        'id:bigint', 'deal_id:bigint', 'discount:float', 'created_at:timestamptz',
    ]) }}
),

discounted as (
    select *
    from source
    where coalesce(discount, 0) <> 0
),

renamed as (
    select
        'zendesk_sell' as source_system,
        {{ make_key('zendesk_sell', 'id', 'order_discount') }} as deal_discount_key,
        cast(id as {{ dbt.type_string() }}) as deal_discount_id,
        {{ make_key('zendesk_sell', 'deal_id') }} as deal_key,
        'percentage' as discount_type,
        discount as discount_value,
        'Order discount' as description,
        {{ to_utc_timestamp('created_at') }} as created_at
    from discounted
),

final as (
    {{ select_canonical('deal_discounts') }}
)

select * from final
