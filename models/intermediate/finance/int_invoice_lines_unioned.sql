-- Canonical invoice lines of every registered system (var l2c_systems) that provides them.
with unioned as (
    {{ union_canonical('invoice_lines') }}
),

final as (
    select * from unioned
)

select * from final
