-- Approval steps (request, decision) from every registered system that declares
-- `approval_steps`, in the canonical contract.
with unioned as (
    {{ union_canonical('approval_steps') }}
),

final as (
    select * from unioned
)

select * from final
