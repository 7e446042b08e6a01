-- Revenue recognition of every line of the finalized, non-void invoices: one row per
-- (invoice line, calendar month it recognises revenue in).
-- 1. The line's amount net of invoice-level discounts: the invoice total allocated to its
--    lines in proportion to their amounts, with cumulative rounding over the lines ordered
--    by id (the allocations sum to the total exactly, in minor units).
-- 2. ratable (a line with a service period, ASC 606 / IFRS 15 revenue over time): straight
--    line over the period, by the second: a month's slice = allocated x seconds of the period
--    up to the slice end / period seconds - the same up to the slice start, each rounded
--    (so the slices sum to the allocated amount exactly).
-- 3. point_in_time (a line without a service period: a one-off sale): in full at the
--    invoice's finalization (Stripe knows no delivery date: the invoice being issued stands
--    for the transfer of control). A line of a subscription (subscription_key set) without a
--    period is recognised the same way and flagged is_period_missing (data_quality_issues).
-- Amounts in minor units of the invoice currency, and of var reporting_currency at the rate
-- of the invoice's creation date (the rate it was billed at), rounded per slice. Months
-- after the as-of instant are kept (the schedule of what is billed but still deferred).
with lines as (
    select * from {{ ref('int_invoice_lines_unioned') }}
),

invoices as (
    select * from {{ ref('int_invoices_linked') }}
    where status <> 'void' and finalized_at is not null
),

fx_rates as (
    select * from {{ ref('int_fx_rates_ranged') }}
),

months as (
    {{ integer_series(2) }}
),

line_amounts as (
    select
        lines.invoice_line_key,
        lines.invoice_line_id,
        lines.source_system,
        lines.invoice_key,
        lines.subscription_key,
        lines.service_period_start_at,
        lines.service_period_end_at,
        invoices.invoice_id,
        invoices.deal_key,
        invoices.currency,
        invoices.created_at as invoice_created_at,
        invoices.finalized_at as invoice_finalized_at,
        {{ to_minor_units('invoices.total') }} as invoice_total_minor,
        {{ to_minor_units('lines.amount') }} as amount_minor
    from lines
    inner join invoices
        on
            lines.invoice_key = invoices.invoice_key
            and lines.source_system = invoices.source_system
),

cumulated as (
    select
        *,
        sum(amount_minor) over (
            partition by source_system, invoice_key
        ) as lines_total_minor,
        sum(amount_minor) over (
            partition by source_system, invoice_key
            order by invoice_line_id
            rows between unbounded preceding and current row
        ) as cumulative_minor
    from line_amounts
),

allocated as (
    select
        *,
        case
            when lines_total_minor = 0 then amount_minor
            else
                cast(round(
                    cast(invoice_total_minor as {{ type_double() }}) * cumulative_minor
                    / lines_total_minor
                ) as {{ dbt.type_bigint() }})
                - cast(round(
                    cast(invoice_total_minor as {{ type_double() }})
                    * (cumulative_minor - amount_minor) / lines_total_minor
                ) as {{ dbt.type_bigint() }})
        end as allocated_minor,
        service_period_start_at is not null
        and service_period_end_at > service_period_start_at as is_ratable
    from cumulated
),

ratable_months as (
    select
        allocated.*,
        cast({{ dbt.dateadd(
            'month', 'months.n',
            dbt.date_trunc('month', 'allocated.service_period_start_at')
        ) }} as {{ dbt.type_timestamp() }}) as month_start_at,
        cast({{ dbt.dateadd(
            'month', 'months.n + 1',
            dbt.date_trunc('month', 'allocated.service_period_start_at')
        ) }} as {{ dbt.type_timestamp() }}) as next_month_start_at
    from allocated
    cross join months
    where allocated.is_ratable
),

ratable_slices as (
    select
        *,
        case
            when service_period_start_at > month_start_at then service_period_start_at
            else month_start_at
        end as slice_start_at,
        case
            when service_period_end_at < next_month_start_at then service_period_end_at
            else next_month_start_at
        end as slice_end_at
    from ratable_months
    where month_start_at < service_period_end_at
),

ratable as (
    select
        *,
        'ratable' as recognition_method,
        {{ dbt.datediff('service_period_start_at', 'service_period_end_at', 'second') }}
            as period_seconds,
        {{ dbt.datediff('service_period_start_at', 'slice_start_at', 'second') }}
            as seconds_before,
        {{ dbt.datediff('service_period_start_at', 'slice_end_at', 'second') }}
            as seconds_through
    from ratable_slices
),

slices as (
    select
        invoice_line_key,
        invoice_line_id,
        source_system,
        invoice_key,
        invoice_id,
        deal_key,
        subscription_key,
        currency,
        invoice_created_at,
        invoice_finalized_at,
        service_period_start_at,
        service_period_end_at,
        allocated_minor,
        recognition_method,
        false as is_period_missing,
        month_start_at,
        slice_start_at,
        slice_end_at,
        seconds_through - seconds_before as slice_seconds,
        cast(round(
            cast(allocated_minor as {{ type_double() }}) * seconds_through / period_seconds
        ) as {{ dbt.type_bigint() }})
        - cast(round(
            cast(allocated_minor as {{ type_double() }}) * seconds_before / period_seconds
        ) as {{ dbt.type_bigint() }}) as recognized_minor
    from ratable
    union all
    select
        invoice_line_key,
        invoice_line_id,
        source_system,
        invoice_key,
        invoice_id,
        deal_key,
        subscription_key,
        currency,
        invoice_created_at,
        invoice_finalized_at,
        service_period_start_at,
        service_period_end_at,
        allocated_minor,
        'point_in_time' as recognition_method,
        subscription_key is not null as is_period_missing,
        cast(
            {{ dbt.date_trunc('month', 'invoice_finalized_at') }} as {{ dbt.type_timestamp() }}
        ) as month_start_at,
        invoice_finalized_at as slice_start_at,
        invoice_finalized_at as slice_end_at,
        0 as slice_seconds,
        allocated_minor as recognized_minor
    from allocated
    where not is_ratable
),

final as (
    select
        slices.*,
        cast(slices.month_start_at as date) as month_start,
        fx_rates.rate_to_reporting,
        {{ convert_minor_units('slices.recognized_minor', 'fx_rates.rate_to_reporting') }}
            as recognized_reporting_minor
    from slices
    left join fx_rates
        on
            slices.currency = fx_rates.currency_code
            and cast(slices.invoice_created_at as date) >= fx_rates.valid_from
            and cast(slices.invoice_created_at as date) < fx_rates.valid_to
)

select * from final
