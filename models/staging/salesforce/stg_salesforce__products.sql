-- Products (Product2). The product category is Product2.Family as the org names it.
with source as (
    {{ select_source_columns('salesforce', 'products', [
        'id:string', 'name:string', 'family:string', 'is_active:boolean',
        'system_modstamp:timestamptz',
    ]) }}
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as product_key,
        id as product_id,
        name as product_name,
        nullif(trim(family), '') as product_category,
        coalesce(is_active, true) as is_active,
        {{ to_utc_timestamp('system_modstamp') }} as updated_at,
        -- the category is a label (Family), not a reference to a category object
        cast(null as {{ dbt.type_string() }}) as product_category_key
    from source
),

final as (
    {{ select_canonical('products') }}
)

select * from final
