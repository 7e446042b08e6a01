-- Renewal rate and churn of the subscriptions sold by deals, per cohort (quarter the
-- subscription started), product, region, rep (the deal's current owner) and source system
-- (the billing or CRM system the subscription is recorded in), at the as-of
-- instant. renewal_rate = renewals / terms_due (term ends the subscription renewed at /
-- renewal decisions: renewals + voluntary churn); non_renewal_rate = 1 - renewal_rate;
-- churn_rate = churned subscriptions (ended by as_of, either way) / subscriptions. A rank is
-- null when terms_due is below var min_group_size.
with subscriptions as (
    select * from {{ ref('int_subscriptions_enriched') }}
    where deal_key is not null
),

by_dimension as (
    select
        subscriptions.*,
        'cohort' as dimension,
        cast(subscriptions.cohort_quarter as {{ dbt.type_string() }}) as group_value
    from subscriptions
    union all
    select
        subscriptions.*,
        'product' as dimension,
        subscriptions.product_name as group_value
    from subscriptions
    union all
    select
        subscriptions.*,
        'region' as dimension,
        subscriptions.region as group_value
    from subscriptions
    union all
    select
        subscriptions.*,
        'rep' as dimension,
        coalesce(subscriptions.owner_user_key, '(none)') as group_value
    from subscriptions
    union all
    select
        subscriptions.*,
        'source_system' as dimension,
        subscriptions.source_system as group_value
    from subscriptions
),

aggregated as (
    select
        dimension,
        group_value,
        max(case when dimension = 'rep' then owner_name end) as group_label,
        count(*) as subscriptions_count,
        sum(terms_due) as terms_due,
        sum(renewals_count) as renewals,
        sum(case when is_voluntary_churn then 1 else 0 end) as voluntary_churned,
        sum(case when is_involuntary_churn then 1 else 0 end) as involuntary_churned,
        sum(case when is_churned then 1 else 0 end) as churned_subscriptions,
        {{ unless_fx_missing(
            'sum(case when is_churned then mrr_reporting_minor else 0 end)',
            'is_churned and mrr_reporting_minor is null'
        ) }} as churned_mrr_minor
    from by_dimension
    group by dimension, group_value
),

rated as (
    select
        *,
        {{ safe_ratio('renewals', 'terms_due') }} as renewal_rate,
        {{ safe_ratio('voluntary_churned', 'terms_due') }} as non_renewal_rate,
        {{ safe_ratio('churned_subscriptions', 'subscriptions_count') }} as churn_rate,
        terms_due < {{ var('min_group_size') }} as is_below_min_group_size
    from aggregated
),

ranked as (
    select
        *,
        case
            when not is_below_min_group_size
                then rank() over (
                    partition by dimension, is_below_min_group_size
                    order by non_renewal_rate desc
                )
        end as non_renewal_rate_rank
    from rated
),

final as (
    select
        cast(dimension as {{ dbt.type_string() }}) as dimension,
        cast(group_value as {{ dbt.type_string() }}) as group_value,
        cast(coalesce(group_label, group_value) as {{ dbt.type_string() }}) as group_label,
        cast(subscriptions_count as {{ dbt.type_bigint() }}) as subscriptions_count,
        cast(terms_due as {{ dbt.type_bigint() }}) as terms_due,
        cast(renewals as {{ dbt.type_bigint() }}) as renewals,
        cast(voluntary_churned as {{ dbt.type_bigint() }}) as voluntary_churned,
        cast(involuntary_churned as {{ dbt.type_bigint() }}) as involuntary_churned,
        cast(churned_subscriptions as {{ dbt.type_bigint() }}) as churned_subscriptions,
        cast(renewal_rate as {{ type_double() }}) as renewal_rate,
        cast(non_renewal_rate as {{ type_double() }}) as non_renewal_rate,
        cast(churn_rate as {{ type_double() }}) as churn_rate,
        cast({{ from_minor_units('churned_mrr_minor') }} as {{ type_double() }})
            as churned_mrr_reporting,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        cast(non_renewal_rate_rank as {{ dbt.type_bigint() }}) as non_renewal_rate_rank,
        cast(is_below_min_group_size as {{ dbt.type_boolean() }}) as is_below_min_group_size
    from ranked
)

select * from final
