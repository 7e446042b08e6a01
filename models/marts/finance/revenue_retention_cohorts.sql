-- Net and gross revenue retention per customer cohort, per source system: the customers who
-- started paying in a quarter (their first complete month whose end finds MRR > 0), followed
-- month by month. A customer's MRR at a month's end, its first paying month and cohort are the
-- ones of int_customer_mrr_monthly (as in mrr_movements; reporting currency).
-- For a cohort and k months after each customer's first paying month: starting MRR = the
-- customers' MRR at the end of their first paying month; per customer, from that to its MRR
-- at the end of month k: expansion (up), contraction (down, still > 0), churn (to 0).
-- nrr = (starting + expansion - contraction - churn) / starting; grr = (starting -
-- contraction - churn) / starting. A (cohort, k) row is published only when month k is
-- complete (ended by as_of) for every customer of the cohort: k = 12 is the yearly NRR / GRR.
with customer_mrr as (
    select * from {{ ref('int_customer_mrr_monthly') }}
),

month_end_mrr as (
    select
        source_system,
        customer_key,
        month_start,
        first_paying_month,
        cohort_quarter,
        mrr_reporting_minor as mrr_minor,
        case when is_fx_missing then 1 else 0 end as fx_missing
    from customer_mrr
    where first_paying_month is not null
),

cohort_members as (
    select
        source_system,
        customer_key,
        first_paying_month as first_month,
        cohort_quarter,
        mrr_minor as starting_minor,
        fx_missing as starting_fx_missing
    from month_end_mrr
    where month_start = first_paying_month
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
        {{ dbt.datediff('cohort_members.first_month', 'month_end_mrr.month_start', 'month') }}
            as months_since_start,
        month_end_mrr.mrr_minor as ending_minor,
        case
            when cohort_members.starting_fx_missing = 1 or month_end_mrr.fx_missing = 1 then 1
            else 0
        end as fx_missing
    from cohort_members
    inner join month_end_mrr
        on
            cohort_members.source_system = month_end_mrr.source_system
            and cohort_members.customer_key = month_end_mrr.customer_key
            and cohort_members.first_month < month_end_mrr.month_start
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
        {{ known_major_units('starting_minor') }} as starting_mrr,
        {{ known_major_units('expansion_minor') }} as expansion_mrr,
        {{ known_major_units('contraction_minor') }} as contraction_mrr,
        {{ known_major_units('churn_minor') }} as churn_mrr,
        {{ known_major_units('ending_minor') }} as ending_mrr,
        cast(nrr as {{ type_double() }}) as nrr,
        cast(grr as {{ type_double() }}) as grr,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        cast(nrr_rank as {{ dbt.type_bigint() }}) as nrr_rank,
        cast(is_below_min_group_size as {{ dbt.type_boolean() }}) as is_below_min_group_size
    from ranked
)

select * from final
