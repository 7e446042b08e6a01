-- Net and gross revenue retention per customer cohort, per source system: the customers who
-- started paying in a quarter (their first complete month whose end finds MRR > 0), followed
-- month by month. A customer's MRR at a month's end is the one of mrr_movements (its
-- subscriptions' spans of int_subscription_mrr_periods in effect then, reporting currency).
-- For a cohort and k months after each customer's first paying month: starting MRR = the
-- customers' MRR at the end of their first paying month; per customer, from that to its MRR
-- at the end of month k: expansion (up), contraction (down, still > 0), churn (to 0).
-- nrr = (starting + expansion - contraction - churn) / starting; grr = (starting -
-- contraction - churn) / starting. A (cohort, k) row is published only when month k is
-- complete (ended by as_of) for every customer of the cohort: k = 12 is the yearly NRR / GRR.
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
    select
        bounds.source_system,
        cast({{ dbt.dateadd('month', 'series.n', 'bounds.first_month') }} as date)
            as month_start,
        cast({{ dbt.dateadd('month', 'series.n + 1', 'bounds.first_month') }} as date)
            as month_end
    from bounds
    cross join series
    where {{ dbt.dateadd('month', 'series.n + 1', 'bounds.first_month') }} <= bounds.as_of
),

month_end_mrr as (
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

first_paying as (
    select
        source_system,
        customer_key,
        min(month_start) as first_month
    from month_end_mrr
    where mrr_minor > 0 or fx_missing = 1
    group by source_system, customer_key
),

cohort_members as (
    select
        first_paying.source_system,
        first_paying.customer_key,
        first_paying.first_month,
        month_end_mrr.mrr_minor as starting_minor,
        month_end_mrr.fx_missing as starting_fx_missing,
        cast({{ dbt.date_trunc('quarter', 'first_paying.first_month') }} as date)
            as cohort_quarter
    from first_paying
    inner join month_end_mrr
        on
            first_paying.source_system = month_end_mrr.source_system
            and first_paying.customer_key = month_end_mrr.customer_key
            and first_paying.first_month = month_end_mrr.month_start
),

cohort_sizes as (
    select
        source_system,
        cohort_quarter,
        count(*) as cohort_customers
    from cohort_members
    group by source_system, cohort_quarter
),

followed as (
    select
        cohort_members.source_system,
        cohort_members.cohort_quarter,
        cohort_members.customer_key,
        cohort_members.starting_minor,
        {{ dbt.datediff('cohort_members.first_month', 'months.month_start', 'month') }}
            as months_since_start,
        coalesce(month_end_mrr.mrr_minor, 0) as ending_minor,
        case
            when cohort_members.starting_fx_missing = 1 or month_end_mrr.fx_missing = 1 then 1
            else 0
        end as fx_missing
    from cohort_members
    inner join months
        on
            cohort_members.source_system = months.source_system
            and cohort_members.first_month < months.month_start
    left join month_end_mrr
        on
            cohort_members.source_system = month_end_mrr.source_system
            and cohort_members.customer_key = month_end_mrr.customer_key
            and months.month_start = month_end_mrr.month_start
),

movements as (
    select
        *,
        case
            when ending_minor > starting_minor then ending_minor - starting_minor else 0
        end as expansion_minor,
        case
            when ending_minor > 0 and ending_minor < starting_minor
                then starting_minor - ending_minor
            else 0
        end as contraction_minor,
        case when ending_minor = 0 then starting_minor else 0 end as churn_minor,
        case when ending_minor > 0 then 1 else 0 end as is_retained
    from followed
),

aggregated as (
    select
        source_system,
        cohort_quarter,
        months_since_start,
        count(*) as customers_followed,
        sum(is_retained) as retained_customers,
        max(fx_missing) as fx_missing,
        sum(starting_minor) as starting_minor,
        sum(expansion_minor) as expansion_minor,
        sum(contraction_minor) as contraction_minor,
        sum(churn_minor) as churn_minor,
        sum(ending_minor) as ending_minor
    from movements
    group by source_system, cohort_quarter, months_since_start
),

complete as (
    select
        aggregated.*,
        cohort_sizes.cohort_customers,
        case when aggregated.fx_missing = 0 then aggregated.starting_minor end
            as known_starting_minor,
        case when aggregated.fx_missing = 0 then aggregated.ending_minor end
            as known_ending_minor,
        cohort_sizes.cohort_customers < {{ var('min_group_size') }} as is_below_min_group_size
    from aggregated
    inner join cohort_sizes
        on
            aggregated.source_system = cohort_sizes.source_system
            and aggregated.cohort_quarter = cohort_sizes.cohort_quarter
    -- every customer of the cohort has reached month k
    where aggregated.customers_followed = cohort_sizes.cohort_customers
),

rated as (
    select
        *,
        {{ safe_ratio('known_ending_minor', 'known_starting_minor') }} as nrr,
        {{ safe_ratio(
            'known_starting_minor - contraction_minor - churn_minor', 'known_starting_minor'
        ) }} as grr
    from complete
),

ranked as (
    select
        *,
        case
            when not is_below_min_group_size and nrr is not null
                then rank() over (
                    partition by
                        source_system,
                        months_since_start,
                        is_below_min_group_size,
                        nrr is null
                    order by nrr desc
                )
        end as nrr_rank
    from rated
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(cohort_quarter as date) as cohort_quarter,
        cast(months_since_start as {{ dbt.type_int() }}) as months_since_start,
        cast(cohort_customers as {{ dbt.type_bigint() }}) as cohort_customers,
        cast(retained_customers as {{ dbt.type_bigint() }}) as retained_customers,
        cast({{ safe_ratio('retained_customers', 'cohort_customers') }} as {{ type_double() }})
            as logo_retention,
        cast(
            case when fx_missing = 0 then {{ from_minor_units('starting_minor') }} end
            as {{ type_double() }}
        ) as starting_mrr,
        cast(
            case when fx_missing = 0 then {{ from_minor_units('expansion_minor') }} end
            as {{ type_double() }}
        ) as expansion_mrr,
        cast(
            case when fx_missing = 0 then {{ from_minor_units('contraction_minor') }} end
            as {{ type_double() }}
        ) as contraction_mrr,
        cast(
            case when fx_missing = 0 then {{ from_minor_units('churn_minor') }} end
            as {{ type_double() }}
        ) as churn_mrr,
        cast(
            case when fx_missing = 0 then {{ from_minor_units('ending_minor') }} end
            as {{ type_double() }}
        ) as ending_mrr,
        cast(nrr as {{ type_double() }}) as nrr,
        cast(grr as {{ type_double() }}) as grr,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        cast(nrr_rank as {{ dbt.type_bigint() }}) as nrr_rank,
        cast(is_below_min_group_size as {{ dbt.type_boolean() }}) as is_below_min_group_size
    from ranked
)

select * from final
