-- Canonical invoice lines of every registered system (var l2c_systems) that provides them.
-- A line that a vendor revenue schedule covers (canonical revenue_schedules, e.g. Certinia
-- Revenue Management) takes the schedule's period as its service period: the finance system's
-- own schedule decides when the line's revenue is recognised, not the line alone.
with unioned as (
    {{ union_canonical('invoice_lines') }}
),

revenue_schedules as (
    select * from {{ ref('int_revenue_schedules_unioned') }}
),

scheduled as (
    select
        unioned.invoice_line_key,
        unioned.invoice_line_id,
        unioned.source_system,
        unioned.invoice_key,
        unioned.subscription_key,
        unioned.description,
        unioned.quantity,
        unioned.amount,
        unioned.currency,
        coalesce(
            revenue_schedules.service_period_start_at, unioned.service_period_start_at
        ) as service_period_start_at,
        coalesce(
            revenue_schedules.service_period_end_at, unioned.service_period_end_at
        ) as service_period_end_at
    from unioned
    left join revenue_schedules
        on
            unioned.invoice_line_key = revenue_schedules.invoice_line_key
            and unioned.source_system = revenue_schedules.source_system
),

final as (
    select * from scheduled
)

select * from final
