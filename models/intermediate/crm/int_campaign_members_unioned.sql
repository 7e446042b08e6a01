-- Canonical campaign members (leads and contacts in a campaign) of every registered system
-- (var l2c_systems) that provides them.
with unioned as (
    {{ union_canonical('campaign_members') }}
),

final as (
    select * from unioned
)

select * from final
