-- Collections per finance system and complete calendar month (up to its as-of instant), in
-- var reporting_currency at the rate of each invoice's creation date. Receivables (AR) at an
-- instant t = the totals of the finalized invoices not yet settled at t: settled = paid in
-- full (paid_at), voided or written off (marked uncollectible), whichever came first; a
-- partial payment leaves the invoice in AR at its total until it is settled. A month runs
-- from its start (exclusive) to its end (inclusive): an invoice finalized exactly at a month
-- start is in that instant's AR. current AR = AR not yet due (due_at after t; an invoice
-- charged automatically is due when finalized, so never current once finalized).
-- credit_sales = totals finalized in the month; collected / written_off / voided = totals
-- settled in the month each way; ending_ar = beginning_ar + credit_sales - collected -
-- written_off - voided. CEI = (beginning_ar + credit_sales - ending_ar) / (beginning_ar +
-- credit_sales - ending_current_ar) x 100 (N = 1 month).
-- Failed payments by the month of an invoice's first failed attempt (non-void invoices):
-- recovered when paid at or after it, written off when marked uncollectible unpaid (both by
-- as_of), recovery_rate = recovered / (recovered + written off), median days to recover =
-- paid - first failure; payment_retries = attempts (failed or not) after an invoice's first
-- failed one, by the month of the attempt; reminders_sent = payment reminders (dunning) sent
-- in the month, null before the month of the system's first reminder seen (Stripe shows a
-- reminder only in its Events API, 30 days deep: older months are not observed, not zero).
with invoices as (
    select * from {{ ref('int_invoices_settled') }}
    where finalized_at is not null
),

payments as (
    select * from {{ ref('int_payments_unioned') }}
),

failures as (
    select * from {{ ref('int_payment_failures_unioned') }}
),

reminders as (
    select * from {{ ref('int_invoice_reminders_unioned') }}
),

series as (
    {{ integer_series(3) }}
),

settled as (
    select
        source_system,
        invoice_key,
        total_reporting_minor,
        finalized_at,
        due_at,
        as_of,
        case
            when
                paid_at is not null
                and (voided_at is null or paid_at <= voided_at)
                and (uncollectible_at is null or paid_at <= uncollectible_at)
                then paid_at
            when
                uncollectible_at is not null
                and (voided_at is null or uncollectible_at <= voided_at)
                then uncollectible_at
            else voided_at
        end as settled_at,
        case
            when
                paid_at is not null
                and (voided_at is null or paid_at <= voided_at)
                and (uncollectible_at is null or paid_at <= uncollectible_at)
                then 'collected'
            when
                uncollectible_at is not null
                and (voided_at is null or uncollectible_at <= voided_at)
                then 'written_off'
            when voided_at is not null then 'voided'
        end as settlement
    from invoices
),

bounds as (
    select
        source_system,
        cast({{ dbt.date_trunc('month', 'min(finalized_at)') }} as date) as first_month,
        max(as_of) as as_of
    from settled
    group by source_system
),

months as (
    {{ complete_months() }}
),

moves as (
    select
        source_system,
        finalized_at as moved_at,
        'sale' as move_kind,
        total_reporting_minor as amount_minor
    from settled
    union all
    select
        source_system,
        settled_at as moved_at,
        settlement as move_kind,
        total_reporting_minor as amount_minor
    from settled
    where settled_at is not null
),

monthly_moves as (
    select
        months.source_system,
        months.month_start,
        months.month_end,
        moves.move_kind,
        moves.amount_minor
    from months
    inner join moves
        on
            months.source_system = moves.source_system
            and months.month_start < moves.moved_at
            and months.month_end >= moves.moved_at
),

flows as (
    select
        months.source_system,
        months.month_start,
        {{ unless_fx_missing(
            "sum(case when monthly_moves.move_kind = 'sale' then monthly_moves.amount_minor "
            ~ "else 0 end)", "monthly_moves.move_kind = 'sale' and monthly_moves.amount_minor is null"
        ) }} as credit_sales_minor,
        {{ unless_fx_missing(
            "sum(case when monthly_moves.move_kind = 'collected' then monthly_moves.amount_minor "
            ~ "else 0 end)",
            "monthly_moves.move_kind = 'collected' and monthly_moves.amount_minor is null"
        ) }} as collected_minor,
        {{ unless_fx_missing(
            "sum(case when monthly_moves.move_kind = 'written_off' then monthly_moves.amount_minor "
            ~ "else 0 end)",
            "monthly_moves.move_kind = 'written_off' and monthly_moves.amount_minor is null"
        ) }} as written_off_minor,
        sum(case when monthly_moves.move_kind = 'written_off' then 1 else 0 end)
            as written_off_invoices
    from months
    left join monthly_moves
        on
            months.source_system = monthly_moves.source_system
            and months.month_start = monthly_moves.month_start
    group by months.source_system, months.month_start
),

receivables as (
    select
        months.source_system,
        months.month_start,
        {{ unless_fx_missing(
            'sum(case when settled.finalized_at <= months.month_start and (settled.settled_at '
            ~ 'is null or settled.settled_at > months.month_start) then '
            ~ 'settled.total_reporting_minor else 0 end)',
            'settled.total_reporting_minor is null'
        ) }} as beginning_ar_minor,
        {{ unless_fx_missing(
            'sum(case when settled.finalized_at <= months.month_end and (settled.settled_at '
            ~ 'is null or settled.settled_at > months.month_end) then '
            ~ 'settled.total_reporting_minor else 0 end)',
            'settled.total_reporting_minor is null'
        ) }} as ending_ar_minor,
        {{ unless_fx_missing(
            'sum(case when settled.finalized_at <= months.month_end and (settled.settled_at '
            ~ 'is null or settled.settled_at > months.month_end) and settled.due_at > '
            ~ 'months.month_end then settled.total_reporting_minor else 0 end)',
            'settled.total_reporting_minor is null'
        ) }} as ending_current_ar_minor
    from months
    inner join settled
        on
            months.source_system = settled.source_system
            and months.month_end >= settled.finalized_at
            and (settled.settled_at is null or months.month_start < settled.settled_at)
    group by months.source_system, months.month_start
),

failed_invoices as (
    select
        failures.source_system,
        failures.invoice_key,
        min(failures.failed_at) as first_failed_at
    from failures
    inner join invoices
        on
            failures.invoice_key = invoices.invoice_key
            and failures.source_system = invoices.source_system
    where not invoices.is_void and failures.failed_at <= invoices.as_of
    group by failures.source_system, failures.invoice_key
),

failed_outcomes as (
    select
        failed_invoices.source_system,
        failed_invoices.first_failed_at,
        invoices.paid_at,
        cast({{ dbt.date_trunc('month', 'failed_invoices.first_failed_at') }} as date)
            as month_start,
        case
            when invoices.paid_at >= failed_invoices.first_failed_at then 'recovered'
            when invoices.paid_at is null and invoices.uncollectible_at is not null
                then 'written_off'
            else 'pending'
        end as outcome
    from failed_invoices
    inner join invoices
        on
            failed_invoices.invoice_key = invoices.invoice_key
            and failed_invoices.source_system = invoices.source_system
),

failed_by_month as (
    select
        source_system,
        month_start,
        count(*) as failed_invoices,
        sum(case when outcome = 'recovered' then 1 else 0 end) as recovered_invoices,
        sum(case when outcome = 'written_off' then 1 else 0 end)
            as written_off_failed_invoices,
        {{ percentile_days(
            "case when outcome = 'recovered' then "
            ~ dbt.datediff('first_failed_at', 'paid_at', 'second') ~ " end", 0.5
        ) }} as median_days_to_recover
    from failed_outcomes
    group by source_system, month_start
),

retries as (
    select
        payments.source_system,
        cast({{ dbt.date_trunc('month', 'payments.paid_at') }} as date) as month_start,
        count(*) as payment_retries
    from payments
    inner join failed_invoices
        on
            payments.invoice_key = failed_invoices.invoice_key
            and payments.source_system = failed_invoices.source_system
    where payments.paid_at > failed_invoices.first_failed_at
    group by
        payments.source_system,
        cast({{ dbt.date_trunc('month', 'payments.paid_at') }} as date)
),

reminders_by_month as (
    select
        source_system,
        cast({{ dbt.date_trunc('month', 'sent_at') }} as date) as month_start,
        count(*) as reminders_sent
    from reminders
    group by source_system, cast({{ dbt.date_trunc('month', 'sent_at') }} as date)
),

reminders_seen_from as (
    select
        source_system,
        cast({{ dbt.date_trunc('month', 'min(sent_at)') }} as date) as first_month
    from reminders
    group by source_system
),

joined as (
    select
        flows.source_system,
        flows.month_start,
        flows.credit_sales_minor,
        flows.collected_minor,
        flows.written_off_minor,
        flows.written_off_invoices,
        failed_by_month.median_days_to_recover,
        coalesce(receivables.beginning_ar_minor, 0) as beginning_ar_minor,
        coalesce(receivables.ending_ar_minor, 0) as ending_ar_minor,
        coalesce(receivables.ending_current_ar_minor, 0) as ending_current_ar_minor,
        coalesce(failed_by_month.failed_invoices, 0) as failed_invoices,
        coalesce(failed_by_month.recovered_invoices, 0) as recovered_invoices,
        coalesce(failed_by_month.written_off_failed_invoices, 0)
            as written_off_failed_invoices,
        coalesce(retries.payment_retries, 0) as payment_retries,
        case
            when flows.month_start >= reminders_seen_from.first_month
                then coalesce(reminders_by_month.reminders_sent, 0)
        end as reminders_sent
    from flows
    left join receivables
        on
            flows.source_system = receivables.source_system
            and flows.month_start = receivables.month_start
    left join failed_by_month
        on
            flows.source_system = failed_by_month.source_system
            and flows.month_start = failed_by_month.month_start
    left join retries
        on
            flows.source_system = retries.source_system
            and flows.month_start = retries.month_start
    left join reminders_by_month
        on
            flows.source_system = reminders_by_month.source_system
            and flows.month_start = reminders_by_month.month_start
    left join reminders_seen_from
        on flows.source_system = reminders_seen_from.source_system
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(month_start as date) as month_start,
        cast({{ from_minor_units('beginning_ar_minor') }} as {{ type_double() }})
            as beginning_ar_reporting,
        cast({{ from_minor_units('credit_sales_minor') }} as {{ type_double() }})
            as credit_sales_reporting,
        cast({{ from_minor_units('collected_minor') }} as {{ type_double() }})
            as collected_reporting,
        cast({{ from_minor_units('written_off_minor') }} as {{ type_double() }})
            as written_off_reporting,
        cast(written_off_invoices as {{ dbt.type_bigint() }}) as written_off_invoices,
        cast({{ from_minor_units('ending_ar_minor') }} as {{ type_double() }})
            as ending_ar_reporting,
        cast({{ from_minor_units('ending_current_ar_minor') }} as {{ type_double() }})
            as ending_current_ar_reporting,
        cast(
            100.0 * {{ safe_ratio(
                'beginning_ar_minor + credit_sales_minor - ending_ar_minor',
                'beginning_ar_minor + credit_sales_minor - ending_current_ar_minor'
            ) }} as {{ type_double() }}
        ) as collection_effectiveness_index,
        cast(failed_invoices as {{ dbt.type_bigint() }}) as failed_invoices,
        cast(recovered_invoices as {{ dbt.type_bigint() }}) as recovered_invoices,
        cast(written_off_failed_invoices as {{ dbt.type_bigint() }})
            as written_off_failed_invoices,
        cast({{ safe_ratio(
            'recovered_invoices', 'recovered_invoices + written_off_failed_invoices'
        ) }} as {{ type_double() }}) as recovery_rate,
        cast(median_days_to_recover as {{ type_double() }}) as median_days_to_recover,
        cast(payment_retries as {{ dbt.type_bigint() }}) as payment_retries,
        cast(reminders_sent as {{ dbt.type_bigint() }}) as reminders_sent,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency
    from joined
)

select * from final
