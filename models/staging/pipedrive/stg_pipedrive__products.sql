-- Products (/api/v2/products). A product's `category` is the id of an option of the product
-- field `category`: the key of stg_pipedrive__product_categories, whose label an
-- intermediate model puts on the product (int_products_resolved); staging does not join, so
-- product_category (the label) is null here.
with source as (
    {{ select_source_columns('pipedrive', 'products', [
        'id:bigint', 'name:string', 'category:bigint', 'is_deleted:boolean',
        'update_time:timestamptz',
    ]) }}
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id') }} as product_key,
        cast(id as {{ dbt.type_string() }}) as product_id,
        name as product_name,
        cast(null as {{ dbt.type_string() }}) as product_category,
        not coalesce(is_deleted, false) as is_active,
        {{ to_utc_timestamp('update_time') }} as updated_at,
        {{ make_key('pipedrive', 'category', 'product_category') }} as product_category_key
    from source
),

final as (
    {{ select_canonical('products') }}
)

select * from final
