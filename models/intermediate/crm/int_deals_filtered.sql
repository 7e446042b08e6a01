-- Canonical deals without deleted ones: the deals that form cases.
with deals as (
    select * from {{ ref('int_deals_unioned') }}
),

final as (
    select *
    from deals
    where not coalesce(is_deleted, false)
)

select * from final
