-- Sales orders from every registered system that provides them (CRM orders or ERP exports),
-- in the canonical contract.
with unioned as (
    {{ union_canonical('orders') }}
),

final as (
    select * from unioned
)

select * from final
