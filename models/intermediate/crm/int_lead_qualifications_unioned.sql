-- Canonical lead_qualifications from every registered system that declares `lead_qualifications`.
with unioned as (
    {{ union_canonical('lead_qualifications') }}
),

final as (
    select * from unioned
)

select * from final
