-- Share of invoices linked to a CRM deal, by link method and finance system.
with invoices as (
    select * from {{ ref('invoices') }}
),

final as (
    select
        source_system,
        coalesce(link_method, 'unlinked') as link_method,
        count(*) as invoices_count,
        1.0 * count(*) / sum(count(*)) over (partition by source_system) as share_of_invoices
    from invoices
    group by source_system, coalesce(link_method, 'unlinked')
)

select * from final
