-- Revenue family, for invoices linked to a deal: Revenue Recognized per (invoice line, month)
-- of the recognition schedule (int_revenue_recognition_sliced), at the instant the slice is
-- recognised in full: its end (the first instant of the next month, or the end of the
-- service period) for a ratable line, the invoice's finalization for a point-in-time one.
-- Amount: the slice, in the invoice currency. Only slices recognised by the system's data
-- horizon (its latest invoice or payment timestamp) are events: the rest of the schedule is
-- still deferred. (The horizon, not int_as_of_resolved, which is computed from the events.)
with slices as (
    select * from {{ ref('int_revenue_recognition_sliced') }}
    where deal_key is not null
),

invoice_times as (
    select
        source_system,
        created_at as at_time
    from {{ ref('int_invoices_unioned') }}
    union all
    select
        source_system,
        finalized_at as at_time
    from {{ ref('int_invoices_unioned') }}
    union all
    select
        source_system,
        paid_at as at_time
    from {{ ref('int_invoices_unioned') }}
    union all
    select
        source_system,
        paid_at as at_time
    from {{ ref('int_payments_unioned') }}
),

horizons as (
    select
        source_system,
        max(at_time) as horizon_at
    from invoice_times
    group by source_system
),

recognized as (
    select
        slices.*,
        {{ from_minor_units('slices.recognized_minor') }} as recognized_amount,
        {{ dbt.concat([
            'slices.invoice_line_id', "':'",
            dbt.cast('slices.month_start', dbt.type_string()),
        ]) }} as slice_id
    from slices
    inner join horizons
        on slices.source_system = horizons.source_system
    where slices.slice_end_at <= horizons.horizon_at
),

final as (
    {{ timestamp_events('recognized', 'invoice', 'invoice_key', 'slice_id', [
        ['Revenue Recognized', 'slice_end_at', 'recognized_amount'],
    ]) }}
)

select * from final
