-- Collections: failed payments and how they ended, per region (the linked deal's region, else
-- the customer's CRM account region; 'Unassigned' when unknown), at the as-of instant.
-- A failed invoice = a non-void invoice with at least one failed payment attempt by as_of;
-- it is recovered when paid (by as_of) after its first failure, written off when marked
-- uncollectible without being paid, else still pending (retries or dunning under way).
-- recovery_rate = recovered / (recovered + written off): the settled failed invoices;
-- amount_recovery_rate the same over their totals in var reporting_currency. days to recover
-- = paid - first failure. written_off_* also count every invoice written off in the region,
-- failed payment or not. A rank is null when the settled failed invoices are below var
-- min_group_size.
with invoices as (
    select * from {{ ref('int_invoices_settled') }}
    where not is_void
),

failures as (
    select * from {{ ref('int_payment_failures_unioned') }}
),

failures_to_date as (
    select
        failures.source_system,
        failures.invoice_key,
        count(*) as failed_attempts,
        min(failures.failed_at) as first_failed_at
    from failures
    inner join invoices
        on
            failures.invoice_key = invoices.invoice_key
            and failures.source_system = invoices.source_system
    where failures.failed_at <= invoices.as_of
    group by failures.source_system, failures.invoice_key
),

failed_invoices as (
    select
        invoices.invoice_key,
        invoices.total_reporting_minor,
        invoices.paid_at,
        failures_to_date.failed_attempts,
        failures_to_date.first_failed_at,
        coalesce(invoices.region, 'Unassigned') as region,
        case
            when invoices.paid_at >= failures_to_date.first_failed_at then 'recovered'
            when invoices.paid_at is null and invoices.uncollectible_at is not null
                then 'written_off'
            else 'pending'
        end as outcome
    from failures_to_date
    inner join invoices
        on
            failures_to_date.invoice_key = invoices.invoice_key
            and failures_to_date.source_system = invoices.source_system
),

failed_by_region as (
    select
        region,
        count(*) as failed_invoices,
        sum(failed_attempts) as failed_attempts,
        sum(case when outcome = 'recovered' then 1 else 0 end) as recovered_invoices,
        sum(case when outcome = 'written_off' then 1 else 0 end) as written_off_failed_invoices,
        sum(case when outcome = 'pending' then 1 else 0 end) as pending_invoices,
        {{ unless_fx_missing(
            "sum(case when outcome <> 'pending' then total_reporting_minor else 0 end)",
            "outcome <> 'pending' and total_reporting_minor is null"
        ) }} as settled_failed_minor,
        {{ unless_fx_missing(
            "sum(case when outcome = 'recovered' then total_reporting_minor else 0 end)",
            "outcome = 'recovered' and total_reporting_minor is null"
        ) }} as recovered_minor,
        {{ percentile_days(
            "case when outcome = 'recovered' then "
            ~ dbt.datediff('first_failed_at', 'paid_at', 'second') ~ " end", 0.5
        ) }} as median_days_to_recover
    from failed_invoices
    group by region
),

written_off as (
    select
        coalesce(region, 'Unassigned') as region,
        count(*) as written_off_invoices,
        {{ unless_fx_missing('sum(total_reporting_minor - ' ~ convert_minor_units(
            'paid_minor', 'rate_to_reporting') ~ ')', 'total_reporting_minor is null') }}
            as written_off_minor
    from invoices
    where uncollectible_at is not null and paid_at is null
    group by coalesce(region, 'Unassigned')
),

regions as (
    select region from failed_by_region
    union
    select region from written_off
),

rated as (
    select
        regions.region,
        failed_by_region.failed_attempts,
        failed_by_region.median_days_to_recover,
        failed_by_region.settled_failed_minor,
        failed_by_region.recovered_minor,
        written_off.written_off_minor,
        coalesce(failed_by_region.failed_invoices, 0) as failed_invoices,
        coalesce(failed_by_region.recovered_invoices, 0) as recovered_invoices,
        coalesce(failed_by_region.written_off_failed_invoices, 0)
            as written_off_failed_invoices,
        coalesce(failed_by_region.pending_invoices, 0) as pending_invoices,
        coalesce(written_off.written_off_invoices, 0) as written_off_invoices,
        {{ safe_ratio(
            'failed_by_region.recovered_invoices',
            'failed_by_region.recovered_invoices + failed_by_region.written_off_failed_invoices'
        ) }} as recovery_rate,
        {{ safe_ratio(
            'failed_by_region.recovered_minor', 'failed_by_region.settled_failed_minor'
        ) }} as amount_recovery_rate,
        coalesce(
            failed_by_region.recovered_invoices + failed_by_region.written_off_failed_invoices,
            0
        ) < {{ var('min_group_size') }} as is_below_min_group_size
    from regions
    left join failed_by_region
        on regions.region = failed_by_region.region
    left join written_off
        on regions.region = written_off.region
),

ranked as (
    select
        *,
        case
            when not is_below_min_group_size and recovery_rate is not null
                then rank() over (
                    partition by not is_below_min_group_size and recovery_rate is not null
                    order by recovery_rate desc
                )
        end as recovery_rate_rank
    from rated
),

final as (
    select
        cast(region as {{ dbt.type_string() }}) as region,
        cast(failed_invoices as {{ dbt.type_bigint() }}) as failed_invoices,
        cast(coalesce(failed_attempts, 0) as {{ dbt.type_bigint() }}) as failed_attempts,
        cast(recovered_invoices as {{ dbt.type_bigint() }}) as recovered_invoices,
        cast(written_off_failed_invoices as {{ dbt.type_bigint() }})
            as written_off_failed_invoices,
        cast(pending_invoices as {{ dbt.type_bigint() }}) as pending_invoices,
        cast(recovery_rate as {{ type_double() }}) as recovery_rate,
        cast(amount_recovery_rate as {{ type_double() }}) as amount_recovery_rate,
        cast(median_days_to_recover as {{ type_double() }}) as median_days_to_recover,
        cast({{ from_minor_units('recovered_minor') }} as {{ type_double() }})
            as recovered_reporting,
        cast(written_off_invoices as {{ dbt.type_bigint() }}) as written_off_invoices,
        cast({{ from_minor_units('written_off_minor') }} as {{ type_double() }})
            as written_off_reporting,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        cast(recovery_rate_rank as {{ dbt.type_bigint() }}) as recovery_rate_rank,
        cast(is_below_min_group_size as {{ dbt.type_boolean() }}) as is_below_min_group_size
    from ranked
)

select * from final
