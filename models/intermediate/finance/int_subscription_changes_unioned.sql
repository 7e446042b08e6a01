-- Canonical subscription changes of every registered system (var l2c_systems) that provides them.
with unioned as (
    {{ union_canonical('subscription_changes') }}
),

final as (
    select * from unioned
)

select * from final
