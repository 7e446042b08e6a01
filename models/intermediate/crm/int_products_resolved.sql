-- Products with their category label: the product's own label where its system gives one
-- (Salesforce Product2.Family), else the label of the category it points at (Pipedrive: an
-- option of the product field `category`). A category key without a known label leaves the
-- category null (reported by warn_product_category_unresolved).
with products as (
    select * from {{ ref('int_products_unioned') }}
),

categories as (
    select * from {{ ref('int_product_categories_unioned') }}
),

final as (
    select
        products.product_key,
        products.product_id,
        products.source_system,
        products.product_name,
        products.is_active,
        products.updated_at,
        products.product_category_key,
        coalesce(products.product_category, categories.product_category) as product_category
    from products
    left join categories
        on
            products.product_category_key = categories.product_category_key
            and products.source_system = categories.source_system
)

select * from final
