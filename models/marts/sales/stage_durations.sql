-- Time in stage: one row per stage visit (a deal's entry into a stage, the synthetic creation
-- entry included) up to the as-of instant. A visit ends at the deal's next stage entry or at
-- its close (won / lost); a visit still running at as_of is censored (is_censored, elapsed to
-- as_of, duration_days null), never a short completed duration.
with visits as (
    select * from {{ ref('int_stage_visits_bounded') }}
),

cases as (
    select * from {{ ref('cases') }}
),

final as (
    select
        cast(visits.stage_entry_key as {{ dbt.type_string() }}) as stage_entry_key,
        cast(visits.deal_key as {{ dbt.type_string() }}) as case_id,
        cast(visits.source_system as {{ dbt.type_string() }}) as source_system,
        cast(cases.pipeline as {{ dbt.type_string() }}) as pipeline,
        cast(cases.owner_key as {{ dbt.type_string() }}) as owner_key,
        cast(cases.team as {{ dbt.type_string() }}) as team,
        cast(cases.region as {{ dbt.type_string() }}) as region,
        cast(visits.visit_number as {{ dbt.type_int() }}) as visit_number,
        cast(visits.stage_name as {{ dbt.type_string() }}) as stage_name,
        cast(visits.canonical_stage as {{ dbt.type_string() }}) as canonical_stage,
        cast(visits.canonical_stage_order as {{ dbt.type_int() }}) as canonical_stage_order,
        cast(visits.entered_at as {{ dbt.type_timestamp() }}) as entered_at,
        cast(visits.left_at as {{ dbt.type_timestamp() }}) as left_at,
        cast(visits.exit_reason as {{ dbt.type_string() }}) as exit_reason,
        cast(visits.is_censored as {{ dbt.type_boolean() }}) as is_censored,
        cast(visits.is_current_visit as {{ dbt.type_boolean() }}) as is_current_visit,
        cast(visits.is_creation_entry as {{ dbt.type_boolean() }}) as is_creation_entry,
        cast(visits.is_backward_move as {{ dbt.type_boolean() }}) as is_backward_move,
        cast(visits.is_repeat_entry as {{ dbt.type_boolean() }}) as is_repeat_entry,
        cast(
            case when not visits.is_censored then visits.elapsed_days end
            as {{ type_double() }}
        ) as duration_days,
        cast(visits.elapsed_days as {{ type_double() }}) as elapsed_days,
        cast(visits.as_of as {{ dbt.type_timestamp() }}) as as_of
    from visits
    inner join cases
        on visits.deal_key = cases.case_id
)

select * from final
