-- Canonical revenue schedules (a finance system's own schedule of one invoice line) of every
-- registered system (var l2c_systems) that provides them.
with unioned as (
    {{ union_canonical('revenue_schedules') }}
),

final as (
    select * from unioned
)

select * from final
