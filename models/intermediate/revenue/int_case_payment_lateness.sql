-- Payment lateness per case: one row per case with at least one payment-evaluable invoice.
-- An invoice is evaluable when it is linked to a case, not void or draft, has a due date, and
-- is paid or past due at the as-of instant of its system; it is late when paid after its due
-- date, or unpaid and past due at as_of. A case is paid late when any evaluable invoice is.
with invoices as (
    select * from {{ ref('int_invoices_linked') }}
    where
        deal_key is not null
        and status not in ('void', 'draft')
        and due_at is not null
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

evaluable as (
    select
        invoices.deal_key as case_id,
        (invoices.paid_at is not null and invoices.paid_at > invoices.due_at)
        or (invoices.paid_at is null and invoices.due_at < as_of.as_of) as is_late
    from invoices
    inner join as_of
        on invoices.source_system = as_of.source_system
    where invoices.paid_at is not null or invoices.due_at < as_of.as_of
),

final as (
    select
        cast(case_id as {{ dbt.type_string() }}) as case_id,
        cast(count(*) as {{ dbt.type_int() }}) as invoices_evaluable,
        cast(sum(case when is_late then 1 else 0 end) as {{ dbt.type_int() }}) as invoices_late,
        cast(max(case when is_late then 1 else 0 end) = 1 as {{ dbt.type_boolean() }})
            as is_paid_late
    from evaluable
    group by case_id
)

select * from final
