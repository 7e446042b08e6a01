-- MRR movements per complete calendar month, over the subscriptions of every finance system
-- (started by as_of, in var reporting_currency at the rate of their start date). A customer's
-- MRR at a month's end = the MRR of its subscriptions active then (started before the end,
-- not ended by it), each at the MRR in effect then (int_subscription_mrr_periods: a
-- Subscription Changed moves it, so mid-term expansions and contractions count). Per
-- customer, from the previous month's end (0 before its first subscription) to this one:
-- new (0 -> > 0, never had MRR), reactivation (0 -> > 0, had MRR before), expansion (up),
-- contraction (down, still > 0), churn (> 0 -> 0).
-- ending = starting + new + expansion + reactivation - contraction - churn. ARR = 12 x MRR
-- (ending_arr; every ARR movement is 12 x its MRR movement).
with subscriptions as (
    select * from {{ ref('int_subscriptions_enriched') }}
),

mrr_periods as (
    select * from {{ ref('int_subscription_mrr_periods') }}
),

bounds as (
    select
        cast({{ dbt.date_trunc('month', 'min(started_at)') }} as date) as first_month,
        max(as_of) as as_of
    from subscriptions
),

series as (
    {{ integer_series(3) }}
),

months as (
    select
        cast({{ dbt.dateadd('month', 'series.n', 'bounds.first_month') }} as date)
            as month_start,
        cast({{ dbt.dateadd('month', 'series.n + 1', 'bounds.first_month') }} as date)
            as month_end
    from bounds
    cross join series
    where {{ dbt.dateadd('month', 'series.n + 1', 'bounds.first_month') }} <= bounds.as_of
),

customers as (
    select distinct customer_key from subscriptions
),

active as (
    select
        months.month_start,
        mrr_periods.customer_key,
        sum(mrr_periods.mrr_reporting_minor) as mrr_minor,
        max(case when mrr_periods.mrr_reporting_minor is null then 1 else 0 end)
            as fx_missing
    from months
    inner join mrr_periods
        on
            months.month_end > mrr_periods.valid_from
            and (mrr_periods.valid_to is null or months.month_end <= mrr_periods.valid_to)
    group by months.month_start, mrr_periods.customer_key
),

grid as (
    select
        months.month_start,
        customers.customer_key,
        coalesce(active.mrr_minor, 0) as mrr_minor,
        coalesce(active.fx_missing, 0) as fx_missing
    from months
    cross join customers
    left join active
        on
            months.month_start = active.month_start
            and customers.customer_key = active.customer_key
),

compared as (
    select
        month_start,
        customer_key,
        mrr_minor,
        fx_missing,
        coalesce(
            lag(mrr_minor) over (partition by customer_key order by month_start), 0
        ) as previous_minor,
        coalesce(
            max(mrr_minor) over (
                partition by customer_key
                order by month_start
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as earlier_max_minor
    from grid
),

movements as (
    select
        month_start,
        fx_missing,
        previous_minor,
        mrr_minor,
        case
            when previous_minor = 0 and mrr_minor > 0 and earlier_max_minor = 0
                then mrr_minor
            else 0
        end as new_minor,
        case
            when previous_minor = 0 and mrr_minor > 0 and earlier_max_minor > 0
                then mrr_minor
            else 0
        end as reactivation_minor,
        case
            when previous_minor > 0 and mrr_minor > previous_minor
                then mrr_minor - previous_minor
            else 0
        end as expansion_minor,
        case
            when mrr_minor > 0 and mrr_minor < previous_minor
                then previous_minor - mrr_minor
            else 0
        end as contraction_minor,
        case when previous_minor > 0 and mrr_minor = 0 then previous_minor else 0 end
            as churn_minor,
        case when mrr_minor > 0 then 1 else 0 end as is_paying,
        case when previous_minor = 0 and mrr_minor > 0 then 1 else 0 end as is_gained,
        case when previous_minor > 0 and mrr_minor = 0 then 1 else 0 end as is_lost
    from compared
),

aggregated as (
    select
        month_start,
        max(fx_missing) as fx_missing,
        sum(previous_minor) as starting_minor,
        sum(new_minor) as new_minor,
        sum(expansion_minor) as expansion_minor,
        sum(reactivation_minor) as reactivation_minor,
        sum(contraction_minor) as contraction_minor,
        sum(churn_minor) as churn_minor,
        sum(mrr_minor) as ending_minor,
        sum(is_paying) as paying_customers,
        sum(is_gained) as customers_gained,
        sum(is_lost) as customers_lost
    from movements
    group by month_start
),

final as (
    select
        cast(month_start as date) as month_start,
        cast(
            case when fx_missing = 0 then {{ from_minor_units('starting_minor') }} end
            as {{ type_double() }}
        ) as starting_mrr,
        cast(
            case when fx_missing = 0 then {{ from_minor_units('new_minor') }} end
            as {{ type_double() }}
        ) as new_mrr,
        cast(
            case when fx_missing = 0 then {{ from_minor_units('expansion_minor') }} end
            as {{ type_double() }}
        ) as expansion_mrr,
        cast(
            case when fx_missing = 0 then {{ from_minor_units('reactivation_minor') }} end
            as {{ type_double() }}
        ) as reactivation_mrr,
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
        cast(paying_customers as {{ dbt.type_bigint() }}) as paying_customers,
        cast(customers_gained as {{ dbt.type_bigint() }}) as customers_gained,
        cast(customers_lost as {{ dbt.type_bigint() }}) as customers_lost,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        cast(
            case when fx_missing = 0 then 12 * {{ from_minor_units('ending_minor') }} end
            as {{ type_double() }}
        ) as ending_arr
    from aggregated
)

select * from final
