-- Canonical owner_changes from every registered system that declares `owner_changes`.
with unioned as (
    {{ union_canonical('owner_changes') }}
),

final as (
    select * from unioned
)

select * from final
