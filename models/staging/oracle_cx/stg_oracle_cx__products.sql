-- Products (inventory items) as the revenue lines (ChildRevenue) name them: Oracle CX serves
-- the item and its product group on each line, so a product is the group of the lines of one
-- InventoryItemId. The product category is the line's product group label (ProdGroupName);
-- should the lines of one item disagree, the label that sorts last is taken. Lines without
-- an item (deal-level discount lines of the Discounts group) are no product.
{{ config(meta={'keeps_raw_rows': false}) }}  -- one row per item, by design
with source as (
    {{ select_source_columns('oracle_cx', 'revenue_items', [
        'inventory_item_id:bigint', 'description:string', 'prod_group_name:string',
        'last_update_date:timestamptz',
    ]) }}
),

items as (
    select
        inventory_item_id,
        max(description) as product_name,
        max(nullif(trim(prod_group_name), '')) as product_category,
        max(last_update_date) as last_update_date
    from source
    where inventory_item_id is not null
    group by inventory_item_id
),

renamed as (
    select
        'oracle_cx' as source_system,
        {{ make_key('oracle_cx', 'inventory_item_id') }} as product_key,
        cast(inventory_item_id as {{ dbt.type_string() }}) as product_id,
        product_name,
        product_category,
        true as is_active,
        {{ to_utc_timestamp('last_update_date') }} as updated_at,
        -- the category is the line's product group label, not a reference staging resolves
        cast(null as {{ dbt.type_string() }}) as product_category_key
    from items
),

final as (
    {{ select_canonical('products') }}
)

select * from final
