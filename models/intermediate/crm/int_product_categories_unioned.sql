-- Canonical product_categories of every registered system (var l2c_systems) that provides them.
with unioned as (
    {{ union_canonical('product_categories') }}
),

final as (
    select * from unioned
)

select * from final
