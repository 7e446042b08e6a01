-- Each subscription customer's MRR at every complete calendar month's end, per finance system:
-- the months from the system's first subscription month to the last one ended by its as_of,
-- every customer of the system in every such month (0 before its first subscription and after
-- its last). A customer's MRR at a month's end = the sum of its subscriptions' spans of
-- int_subscription_mrr_periods in effect then (valid_from < month end <= valid_to), in cents
-- of var reporting_currency at the rate of each subscription's start date. is_fx_missing: a
-- span in effect then has no rate (its MRR is left out of the sum, so the sum is incomplete).
-- first_paying_month: the customer's first month whose end finds MRR above 0 (or unknown),
-- cohort_quarter its quarter. The one month-end MRR of mrr_movements and
-- revenue_retention_cohorts.
with subscriptions as (
    select * from {{ ref('int_subscriptions_enriched') }}
),

mrr_periods as (
    select * from {{ ref('int_subscription_mrr_periods') }}
),

bounds as (
    select
        source_system,
        cast({{ dbt.date_trunc('month', 'min(started_at)') }} as date) as first_month,
        max(as_of) as as_of
    from subscriptions
    group by source_system
),

series as (
    {{ integer_series(3) }}
),

months as (
    {{ complete_months() }}
),

customers as (
    select distinct
        source_system,
        customer_key
    from subscriptions
),

active as (
    select
        months.source_system,
        months.month_start,
        mrr_periods.customer_key,
        sum(mrr_periods.mrr_reporting_minor) as mrr_minor,
        max(case when mrr_periods.mrr_reporting_minor is null then 1 else 0 end)
            as fx_missing
    from months
    inner join mrr_periods
        on
            months.source_system = mrr_periods.source_system
            and months.month_end > mrr_periods.valid_from
            and (mrr_periods.valid_to is null or months.month_end <= mrr_periods.valid_to)
    group by months.source_system, months.month_start, mrr_periods.customer_key
),

grid as (
    select
        months.source_system,
        customers.customer_key,
        months.month_start,
        months.month_end,
        coalesce(active.mrr_minor, 0) as mrr_minor,
        coalesce(active.fx_missing, 0) as fx_missing
    from months
    inner join customers
        on months.source_system = customers.source_system
    left join active
        on
            months.source_system = active.source_system
            and months.month_start = active.month_start
            and customers.customer_key = active.customer_key
),

first_paying as (
    select
        source_system,
        customer_key,
        min(month_start) as first_paying_month
    from grid
    where mrr_minor > 0 or fx_missing = 1
    group by source_system, customer_key
),

final as (
    select
        cast(grid.source_system as {{ dbt.type_string() }}) as source_system,
        cast(grid.customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(grid.month_start as date) as month_start,
        cast(grid.month_end as date) as month_end,
        cast(grid.mrr_minor as {{ dbt.type_bigint() }}) as mrr_reporting_minor,
        cast(grid.fx_missing = 1 as {{ dbt.type_boolean() }}) as is_fx_missing,
        cast(first_paying.first_paying_month as date) as first_paying_month,
        cast({{ dbt.date_trunc('quarter', 'first_paying.first_paying_month') }} as date)
            as cohort_quarter,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency
    from grid
    left join first_paying
        on
            grid.source_system = first_paying.source_system
            and grid.customer_key = first_paying.customer_key
)

select * from final
