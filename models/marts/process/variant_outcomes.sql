-- Which variants and deviations go with lost deals and late payments: one row per factor a
-- case can have (its variant, fitting or deviating, each deviation kind, each (kind, activity)
-- deviation). A case counts once per factor. loss_rate = lost / (won + lost); a case is paid
-- late per int_case_payment_lateness (cases without an evaluable invoice are outside that
-- denominator). Lift = the group's rate / the rate over all cases that have a factor.
with process_variants as (
    select * from {{ ref('process_variants') }}
),

case_variants as (
    select * from {{ ref('case_variants') }}
),

conformance as (
    select * from {{ ref('case_conformance') }}
),

deviations as (
    select * from {{ ref('conformance_deviations') }}
),

cases as (
    select * from {{ ref('cases') }}
),

lateness as (
    select * from {{ ref('int_case_payment_lateness') }}
),

factors as (
    select
        case_variants.case_id,
        'variant' as factor_type,
        case_variants.variant_id as factor_value,
        {{ dbt.concat([
            "'#'",
            'cast(process_variants.variant_rank as ' ~ dbt.type_string() ~ ')',
            "': '",
            'process_variants.shortened_text',
        ]) }} as factor_label
    from case_variants
    inner join process_variants
        on case_variants.variant_id = process_variants.variant_id
    union all
    select
        case_id,
        'conformance' as factor_type,
        case when fits then 'fits' else 'deviates' end as factor_value,
        case
            when fits then 'fits the ideal path' else 'deviates from the ideal path'
        end as factor_label
    from conformance
    union all
    select distinct
        case_id,
        'deviation_kind' as factor_type,
        deviation_kind as factor_value,
        deviation_kind as factor_label
    from deviations
    union all
    select distinct
        case_id,
        'deviation' as factor_type,
        {{ dbt.concat(['deviation_kind', "': '", 'activity']) }} as factor_value,
        {{ dbt.concat(['deviation_kind', "': '", 'activity']) }} as factor_label
    from deviations
),

per_case as (
    select
        cases.case_id,
        cases.outcome,
        lateness.is_paid_late
    from cases
    left join lateness
        on cases.case_id = lateness.case_id
),

overall as (
    select
        {{ safe_ratio(
            "sum(case when outcome = 'lost' then 1 else 0 end)",
            "sum(case when outcome in ('won', 'lost') then 1 else 0 end)"
        ) }} as loss_rate,
        {{ safe_ratio(
            'sum(case when is_paid_late then 1 else 0 end)', 'count(is_paid_late)'
        ) }} as late_payment_rate
    from per_case
    where case_id in (select factors.case_id from factors)
),

grouped as (
    select
        factors.factor_type,
        factors.factor_value,
        min(factors.factor_label) as factor_label,
        count(*) as cases_count,
        sum(case when per_case.outcome in ('won', 'lost') then 1 else 0 end) as closed_cases,
        sum(case when per_case.outcome = 'lost' then 1 else 0 end) as lost_cases,
        count(per_case.is_paid_late) as payment_cases,
        sum(case when per_case.is_paid_late then 1 else 0 end) as late_cases
    from factors
    inner join per_case
        on factors.case_id = per_case.case_id
    group by factors.factor_type, factors.factor_value
),

rated as (
    select
        grouped.*,
        overall.loss_rate as overall_loss_rate,
        overall.late_payment_rate as overall_late_payment_rate,
        {{ safe_ratio('grouped.lost_cases', 'grouped.closed_cases') }} as loss_rate,
        {{ safe_ratio('grouped.late_cases', 'grouped.payment_cases') }} as late_payment_rate
    from grouped
    cross join overall
),

final as (
    select
        cast(factor_type as {{ dbt.type_string() }}) as factor_type,
        cast(factor_value as {{ dbt.type_string() }}) as factor_value,
        cast(factor_label as {{ dbt.type_string() }}) as factor_label,
        cast(cases_count as {{ dbt.type_bigint() }}) as cases_count,
        cast(closed_cases as {{ dbt.type_bigint() }}) as closed_cases,
        cast(lost_cases as {{ dbt.type_bigint() }}) as lost_cases,
        cast(loss_rate as {{ type_double() }}) as loss_rate,
        cast(
            {{ safe_ratio('loss_rate', 'overall_loss_rate') }} as {{ type_double() }}
        ) as loss_rate_lift,
        cast(
            closed_cases >= {{ var('min_group_size') }} as {{ dbt.type_boolean() }}
        ) as loss_rate_is_reliable,
        cast(payment_cases as {{ dbt.type_bigint() }}) as payment_cases,
        cast(late_cases as {{ dbt.type_bigint() }}) as late_cases,
        cast(late_payment_rate as {{ type_double() }}) as late_payment_rate,
        cast(
            {{ safe_ratio('late_payment_rate', 'overall_late_payment_rate') }}
            as {{ type_double() }}
        ) as late_payment_rate_lift,
        cast(
            payment_cases >= {{ var('min_group_size') }} as {{ dbt.type_boolean() }}
        ) as late_payment_rate_is_reliable
    from rated
)

select * from final
