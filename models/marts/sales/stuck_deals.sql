-- Stuck deals: one row per open deal whose time in its current stage at the as-of instant
-- exceeds its threshold (var stuck_deal_days_limit when set, else the p90 of completed visits
-- of that stage in the deal's pipeline). See case_stage_progression.
with progression as (
    select * from {{ ref('case_stage_progression') }}
    where is_stuck
),

final as (
    select
        cast(case_id as {{ dbt.type_string() }}) as case_id,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(owner_key as {{ dbt.type_string() }}) as owner_key,
        cast(owner_name as {{ dbt.type_string() }}) as owner_name,
        cast(team as {{ dbt.type_string() }}) as team,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(pipeline as {{ dbt.type_string() }}) as pipeline,
        cast(current_stage as {{ dbt.type_string() }}) as current_stage,
        cast(current_stage_entered_at as {{ dbt.type_timestamp() }})
            as current_stage_entered_at,
        cast(days_in_current_stage as {{ type_double() }}) as days_in_current_stage,
        cast(stuck_threshold_days as {{ type_double() }}) as stuck_threshold_days,
        cast(stuck_threshold_source as {{ dbt.type_string() }}) as stuck_threshold_source,
        cast(days_in_current_stage - stuck_threshold_days as {{ type_double() }})
            as days_over_threshold,
        cast(deal_value as {{ type_double() }}) as deal_value,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(deal_value_reporting as {{ type_double() }}) as deal_value_reporting,
        cast(as_of as {{ dbt.type_timestamp() }}) as as_of
    from progression
)

select * from final
