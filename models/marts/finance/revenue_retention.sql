-- Gross and net revenue retention per finance system and complete calendar month, from
-- mrr_movements: over the system's customers paying at the start of the month (starting_mrr),
-- what they pay at its end.
-- nrr = (starting + expansion - contraction - churn) / starting; grr = (starting -
-- contraction - churn) / starting (<= 1). New and reactivated customers are in neither
-- (mrr_movements counts expansion, contraction and churn only for customers paying at the
-- previous month's end). Null when starting MRR is 0 or unknown (FX missing).
with movements as (
    select * from {{ ref('mrr_movements') }}
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(month_start as date) as month_start,
        cast(starting_mrr as {{ type_double() }}) as starting_mrr,
        cast(expansion_mrr as {{ type_double() }}) as expansion_mrr,
        cast(contraction_mrr as {{ type_double() }}) as contraction_mrr,
        cast(churn_mrr as {{ type_double() }}) as churn_mrr,
        cast({{ safe_ratio(
            'starting_mrr + expansion_mrr - contraction_mrr - churn_mrr', 'starting_mrr'
        ) }} as {{ type_double() }}) as nrr,
        cast({{ safe_ratio(
            'starting_mrr - contraction_mrr - churn_mrr', 'starting_mrr'
        ) }} as {{ type_double() }}) as grr,
        cast(reporting_currency as {{ dbt.type_string() }}) as reporting_currency
    from movements
)

select * from final
