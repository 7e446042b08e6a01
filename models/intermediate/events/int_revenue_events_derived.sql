-- Revenue family, for invoices linked to a deal: Revenue Recognized per (invoice, month) of
-- the recognition schedule (int_revenue_recognition_sliced, its lines summed), at the instant
-- the invoice's revenue of the month is recognised in full: the latest end of its slices in
-- the month (the first instant of the next month or the end of the service period for a
-- ratable line; the invoice's finalization for a point-in-time one). One event per invoice
-- and month, not per line, so a one-off invoice of several lines is one step of its case.
-- Amount: the month's revenue of the invoice, in the invoice currency. Only months recognised
-- in full by the system's data horizon (its latest invoice or payment timestamp) are events:
-- the rest of the schedule is still deferred. (The horizon, not int_as_of_resolved, which is
-- computed from the events.)
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

invoice_months as (
    select
        source_system,
        deal_key,
        invoice_key,
        invoice_id,
        currency,
        month_start,
        max(slice_end_at) as recognized_at,
        sum(recognized_minor) as recognized_minor
    from slices
    group by source_system, deal_key, invoice_key, invoice_id, currency, month_start
),

recognized as (
    select
        invoice_months.*,
        {{ from_minor_units('invoice_months.recognized_minor') }} as recognized_amount,
        {{ dbt.concat([
            'invoice_months.invoice_id', "':'",
            dbt.cast('invoice_months.month_start', dbt.type_string()),
        ]) }} as month_id
    from invoice_months
    inner join horizons
        on invoice_months.source_system = horizons.source_system
    where invoice_months.recognized_at <= horizons.horizon_at
),

final as (
    {{ timestamp_events('recognized', 'invoice', 'invoice_key', 'month_id', [
        ['Revenue Recognized', 'recognized_at', 'recognized_amount'],
    ]) }}
)

select * from final
