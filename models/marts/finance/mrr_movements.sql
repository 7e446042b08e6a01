-- MRR movements per finance system and complete calendar month, over the subscriptions of each
-- system (started by its as_of, in var reporting_currency at the rate of their start date). A
-- customer's MRR at a month's end is the one of int_customer_mrr_monthly (its subscriptions'
-- spans of int_subscription_mrr_periods in effect then: a Subscription Changed moves it, so
-- mid-term expansions and contractions count). Per customer, from the previous month's end (0
-- before its first subscription) to this one: new (0 -> > 0, never had MRR), reactivation
-- (0 -> > 0, had MRR before), expansion (up), contraction (down, still > 0), churn (> 0 -> 0).
-- ending = starting + new + expansion + reactivation - contraction - churn. ARR = 12 x MRR
-- (ending_arr; every ARR movement is 12 x its MRR movement).
with customer_mrr as (
    select * from {{ ref('int_customer_mrr_monthly') }}
),

compared as (
    select
        source_system,
        month_start,
        customer_key,
        mrr_reporting_minor as mrr_minor,
        case when is_fx_missing then 1 else 0 end as fx_missing,
        coalesce(
            lag(mrr_reporting_minor) over (
                partition by source_system, customer_key order by month_start
            ),
            0
        ) as previous_minor,
        coalesce(
            max(mrr_reporting_minor) over (
                partition by source_system, customer_key
                order by month_start
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as earlier_max_minor
    from customer_mrr
),

movements as (
    select
        source_system,
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
        source_system,
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
    group by source_system, month_start
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(month_start as date) as month_start,
        {{ known_major_units('starting_minor') }} as starting_mrr,
        {{ known_major_units('new_minor') }} as new_mrr,
        {{ known_major_units('expansion_minor') }} as expansion_mrr,
        {{ known_major_units('reactivation_minor') }} as reactivation_mrr,
        {{ known_major_units('contraction_minor') }} as contraction_mrr,
        {{ known_major_units('churn_minor') }} as churn_mrr,
        {{ known_major_units('ending_minor') }} as ending_mrr,
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
