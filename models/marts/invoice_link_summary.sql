-- Share of invoices linked to a CRM deal, per finance system (denominator: all invoices).
with invoices as (
    select * from {{ ref('invoices') }}
),

summary as (
    select
        source_system,
        count(*) as invoices_count,
        sum(case when link_method = 'native' then 1 else 0 end) as linked_natively,
        sum(case when link_method = 'metadata' then 1 else 0 end) as linked_by_metadata,
        sum(case when link_method = 'rule' then 1 else 0 end) as linked_by_rule,
        sum(case when link_method = 'subscription' then 1 else 0 end) as linked_by_subscription,
        sum(case when link_method is null then 1 else 0 end) as unlinked
    from invoices
    group by source_system
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(invoices_count as {{ dbt.type_bigint() }}) as invoices_count,
        cast(linked_by_metadata as {{ dbt.type_bigint() }}) as linked_by_metadata,
        cast(linked_by_rule as {{ dbt.type_bigint() }}) as linked_by_rule,
        cast(unlinked as {{ dbt.type_bigint() }}) as unlinked,
        cast(linked_by_subscription as {{ dbt.type_bigint() }}) as linked_by_subscription,
        cast(
            1.0
            * (linked_natively + linked_by_metadata + linked_by_subscription + linked_by_rule)
            / invoices_count
            as {{ type_double() }}
        ) as share_linked,
        cast(linked_natively as {{ dbt.type_bigint() }}) as linked_natively
    from summary
)

select * from final
