-- Stage progression per deal: one row per deal (case_type deal) created at or before as_of,
-- with or without stage history. By canonical stage order within the deal's pipeline (the
-- stages of stage_funnel):
--   skipped stages  stages of the pipeline up to the furthest stage reached that the deal
--                   never entered; the furthest stage of a won deal is the pipeline's last
--   backward moves  entries into a stage of lower canonical order than the previous entry
--   repeated entries entries into a stage the deal had entered before
-- Stuck: an open deal whose time in its current stage exceeds var stuck_deal_days_limit when
-- set, else the p90 of completed visits of that stage in the pipeline (stage_funnel).
{%- set stuck_limit = var('stuck_deal_days_limit', none) %}

with visits as (
    select * from {{ ref('stage_durations') }}
),

cases as (
    select * from {{ ref('cases') }}
    where case_type = 'deal'
),

pipeline_stages as (
    select * from {{ ref('stage_funnel') }}
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

deals as (
    select
        cases.case_id,
        cases.source_system,
        cases.owner_key,
        cases.owner_name,
        cases.team,
        cases.region,
        cases.pipeline,
        cases.deal_value,
        cases.currency,
        cases.deal_value_reporting,
        as_of.as_of,
        {{ outcome_at_as_of() }} as outcome
    from cases
    inner join as_of
        on cases.source_system = as_of.source_system
    where {{ created_by_as_of() }}
),

pipeline_ends as (
    select
        source_system,
        pipeline,
        max(canonical_stage_order) as last_stage_order
    from pipeline_stages
    group by source_system, pipeline
),

visit_totals as (
    select
        case_id,
        count(*) as stage_entries_count,
        sum(case when is_backward_move then 1 else 0 end) as backward_moves_count,
        sum(case when is_repeat_entry then 1 else 0 end) as repeated_entries_count,
        max(canonical_stage_order) as furthest_entered_order,
        {{ ordered_listagg('canonical_stage', "' > '", 'visit_number') }} as stage_path
    from visits
    group by case_id
),

entered_stages as (
    select distinct
        case_id,
        canonical_stage
    from visits
),

current_visits as (
    select
        case_id,
        canonical_stage,
        entered_at,
        elapsed_days
    from visits
    where is_current_visit
),

reach as (
    select
        deals.case_id,
        deals.source_system,
        deals.pipeline,
        case
            when deals.outcome = 'won' then pipeline_ends.last_stage_order
            else visit_totals.furthest_entered_order
        end as furthest_order
    from deals
    left join visit_totals
        on deals.case_id = visit_totals.case_id
    left join pipeline_ends
        on
            deals.source_system = pipeline_ends.source_system
            and deals.pipeline = pipeline_ends.pipeline
),

skipped as (
    select
        reach.case_id,
        count(*) as skipped_stages_count,
        {{ ordered_listagg(
            'pipeline_stages.canonical_stage', "', '", 'pipeline_stages.canonical_stage_order'
        ) }} as skipped_stages
    from reach
    inner join pipeline_stages
        on
            reach.source_system = pipeline_stages.source_system
            and reach.pipeline = pipeline_stages.pipeline
            and reach.furthest_order >= pipeline_stages.canonical_stage_order
    left join entered_stages
        on
            reach.case_id = entered_stages.case_id
            and pipeline_stages.canonical_stage = entered_stages.canonical_stage
    where entered_stages.case_id is null
    group by reach.case_id
),

furthest_stages as (
    select
        reach.case_id,
        pipeline_stages.canonical_stage as furthest_stage
    from reach
    inner join pipeline_stages
        on
            reach.source_system = pipeline_stages.source_system
            and reach.pipeline = pipeline_stages.pipeline
            and reach.furthest_order = pipeline_stages.canonical_stage_order
),

joined as (
    select
        deals.*,
        visit_totals.stage_path,
        furthest_stages.furthest_stage,
        skipped.skipped_stages,
        current_visits.canonical_stage as current_stage,
        current_visits.entered_at as current_stage_entered_at,
        current_visits.elapsed_days as days_in_current_stage,
        coalesce(visit_totals.stage_entries_count, 0) as stage_entries_count,
        coalesce(skipped.skipped_stages_count, 0) as skipped_stages_count,
        coalesce(visit_totals.backward_moves_count, 0) as backward_moves_count,
        coalesce(visit_totals.repeated_entries_count, 0) as repeated_entries_count,
        {%- if stuck_limit is not none %}
            case
                when current_visits.case_id is not null then {{ stuck_limit }}
            end as stuck_threshold_days,
            'stuck_deal_days_limit' as stuck_threshold_source
        {%- else %}
            pipeline_stages.p90_days_in_stage as stuck_threshold_days,
            'stage_p90' as stuck_threshold_source
        {%- endif %}
    from deals
    left join visit_totals
        on deals.case_id = visit_totals.case_id
    left join skipped
        on deals.case_id = skipped.case_id
    left join furthest_stages
        on deals.case_id = furthest_stages.case_id
    left join current_visits
        on deals.case_id = current_visits.case_id
    left join pipeline_stages
        on
            deals.source_system = pipeline_stages.source_system
            and deals.pipeline = pipeline_stages.pipeline
            and current_visits.canonical_stage = pipeline_stages.canonical_stage
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
        cast(outcome as {{ dbt.type_string() }}) as outcome,
        cast(deal_value as {{ type_double() }}) as deal_value,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(deal_value_reporting as {{ type_double() }}) as deal_value_reporting,
        cast(stage_entries_count as {{ dbt.type_bigint() }}) as stage_entries_count,
        cast(stage_path as {{ dbt.type_string() }}) as stage_path,
        cast(furthest_stage as {{ dbt.type_string() }}) as furthest_stage,
        cast(skipped_stages_count as {{ dbt.type_bigint() }}) as skipped_stages_count,
        cast(skipped_stages as {{ dbt.type_string() }}) as skipped_stages,
        cast(skipped_stages_count > 0 as {{ dbt.type_boolean() }}) as has_skipped_stages,
        cast(backward_moves_count as {{ dbt.type_bigint() }}) as backward_moves_count,
        cast(backward_moves_count > 0 as {{ dbt.type_boolean() }}) as has_backward_moves,
        cast(repeated_entries_count as {{ dbt.type_bigint() }}) as repeated_entries_count,
        cast(current_stage as {{ dbt.type_string() }}) as current_stage,
        cast(current_stage_entered_at as {{ dbt.type_timestamp() }})
            as current_stage_entered_at,
        cast(days_in_current_stage as {{ type_double() }}) as days_in_current_stage,
        cast(stuck_threshold_days as {{ type_double() }}) as stuck_threshold_days,
        cast(
            case when stuck_threshold_days is not null then stuck_threshold_source end
            as {{ dbt.type_string() }}
        ) as stuck_threshold_source,
        cast(
            coalesce(days_in_current_stage > stuck_threshold_days, false)
            as {{ dbt.type_boolean() }}
        ) as is_stuck,
        cast(as_of as {{ dbt.type_timestamp() }}) as as_of
    from joined
)

select * from final
