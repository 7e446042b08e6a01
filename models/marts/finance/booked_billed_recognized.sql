-- Booked -> billed -> recognised revenue per complete calendar month, over every system, in
-- var reporting_currency. booked = value of the deals won in the month (rate of the won
-- date); billed = totals of the non-void invoices finalized in the month (rate of the
-- invoice's creation date); recognised = the revenue_recognition_schedule slices of the
-- month (at their invoice's rate); deferred_end = billed - recognised, cumulated to the
-- month's end (negative: recognised before billed). Lags: median days from won to the first
-- invoice over the deals won in the month that are invoiced (by as_of), and median days
-- from an invoice's finalization to the end of its recognition (0 for a point-in-time
-- invoice) over the invoices finalized in the month. Months run from the first month with
-- any of the three to the last month ended by the warehouse's as-of instant.
with deals as (
    select * from {{ ref('int_deal_billing_lags') }}
),

invoices as (
    select * from {{ ref('int_invoices_settled') }}
    where not is_void and finalized_at <= as_of
),

slices as (
    select * from {{ ref('int_revenue_recognition_sliced') }}
),

as_of as (
    select max(warehouse_as_of) as as_of from {{ ref('int_as_of_resolved') }}
),

recognition_ends as (
    select
        source_system,
        invoice_key,
        max(slice_end_at) as recognized_through_at
    from slices
    group by source_system, invoice_key
),

booked as (
    select
        cast({{ dbt.date_trunc('month', 'won_at') }} as date) as month_start,
        count(*) as won_deals,
        sum(case when first_invoiced_at is not null then 1 else 0 end) as invoiced_deals,
        {{ unless_fx_missing('sum(booked_reporting_minor)', 'booked_reporting_minor is null') }}
            as booked_minor,
        {{ percentile_days('won_to_invoice_seconds', 0.5) }} as median_days_won_to_invoice
    from deals
    group by cast({{ dbt.date_trunc('month', 'won_at') }} as date)
),

billed as (
    select
        cast({{ dbt.date_trunc('month', 'invoices.finalized_at') }} as date) as month_start,
        count(*) as invoices_count,
        {{ unless_fx_missing(
            'sum(invoices.total_reporting_minor)', 'invoices.total_reporting_minor is null'
        ) }} as billed_minor,
        {{ percentile_days(dbt.datediff(
            'invoices.finalized_at', 'recognition_ends.recognized_through_at', 'second'
        ), 0.5) }} as median_days_invoice_to_recognized
    from invoices
    left join recognition_ends
        on
            invoices.invoice_key = recognition_ends.invoice_key
            and invoices.source_system = recognition_ends.source_system
    group by cast({{ dbt.date_trunc('month', 'invoices.finalized_at') }} as date)
),

recognized as (
    select
        month_start,
        {{ unless_fx_missing(
            'sum(recognized_reporting_minor)', 'recognized_reporting_minor is null'
        ) }} as recognized_minor
    from slices
    group by month_start
),

all_months as (
    select month_start from booked
    union all
    select month_start from billed
    union all
    select month_start from recognized
),

bounds as (
    select
        min(all_months.month_start) as first_month,
        max(as_of.as_of) as as_of
    from all_months
    cross join as_of
),

series as (
    {{ integer_series(3) }}
),

months as (
    {{ complete_months(partition_by=[]) }}
),

joined as (
    select
        months.month_start,
        booked.median_days_won_to_invoice,
        billed.median_days_invoice_to_recognized,
        coalesce(booked.won_deals, 0) as won_deals,
        coalesce(booked.invoiced_deals, 0) as invoiced_deals,
        coalesce(billed.invoices_count, 0) as invoices_count,
        case when booked.month_start is null then 0 else booked.booked_minor end
            as booked_minor,
        case when billed.month_start is null then 0 else billed.billed_minor end
            as billed_minor,
        case when recognized.month_start is null then 0 else recognized.recognized_minor end
            as recognized_minor
    from months
    left join booked
        on months.month_start = booked.month_start
    left join billed
        on months.month_start = billed.month_start
    left join recognized
        on months.month_start = recognized.month_start
),

cumulated as (
    select
        *,
        sum(billed_minor - recognized_minor) over (
            order by month_start rows between unbounded preceding and current row
        ) as deferred_minor,
        max(case when billed_minor is null or recognized_minor is null then 1 else 0 end)
            over (order by month_start rows between unbounded preceding and current row)
            as fx_missing_so_far
    from joined
),

final as (
    select
        cast(month_start as date) as month_start,
        cast(won_deals as {{ dbt.type_bigint() }}) as won_deals,
        cast({{ from_minor_units('booked_minor') }} as {{ type_double() }}) as booked_reporting,
        cast(invoices_count as {{ dbt.type_bigint() }}) as invoices_count,
        cast({{ from_minor_units('billed_minor') }} as {{ type_double() }}) as billed_reporting,
        cast({{ from_minor_units('recognized_minor') }} as {{ type_double() }})
            as recognized_reporting,
        cast(
            case when fx_missing_so_far = 0 then {{ from_minor_units('deferred_minor') }} end
            as {{ type_double() }}
        ) as deferred_end_reporting,
        cast(invoiced_deals as {{ dbt.type_bigint() }}) as invoiced_deals,
        cast(median_days_won_to_invoice as {{ type_double() }}) as median_days_won_to_invoice,
        cast(median_days_invoice_to_recognized as {{ type_double() }})
            as median_days_invoice_to_recognized,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency
    from cumulated
)

select * from final
