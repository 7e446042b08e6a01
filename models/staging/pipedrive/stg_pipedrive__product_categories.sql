-- Product categories: the options of the built-in product field `category` (/v1/productFields,
-- flattened by the loader into product_field_options). A product's `category` holds the
-- option id.
{{ config(meta={'keeps_raw_rows': false}) }}  -- the options of one field only, by design
with source as (
    {{ select_source_columns('pipedrive', 'product_field_options', [
        'id:bigint', 'field_key:string', 'label:string',
    ]) }}
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id', 'product_category') }} as product_category_key,
        cast(id as {{ dbt.type_string() }}) as product_category_id,
        nullif(trim(label), '') as product_category
    from source
    where field_key = 'category'
),

final as (
    {{ select_canonical('product_categories') }}
)

select * from final
