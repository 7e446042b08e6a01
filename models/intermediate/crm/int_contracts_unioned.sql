-- Customer contracts (sent, signed) from every registered system that declares `contracts`,
-- in the canonical contract.
with unioned as (
    {{ union_canonical('contracts') }}
),

final as (
    select * from unioned
)

select * from final
