-- Stage funnel, stage losses and time in stage. One row per (source_system, pipeline,
-- canonical_stage) for the canonical stages of the pipeline (its non-deleted, mapped stages,
-- in canonical order). Deals: the pipeline's deals created at or before as_of.
--   reached_any_count     deals that ever entered the stage
--   reached_strict_count  deals that entered the stage and every earlier stage of the pipeline
--   lost_from_stage_count deals lost while in the stage; loss_rate = that / reached_any_count
--   days in stage         completed visits only (median / p90); censored visits are counted
with visits as (
    select * from {{ ref('stage_durations') }}
),

cases as (
    select * from {{ ref('cases') }}
    where case_type = 'deal'
),

stages as (
    select * from {{ ref('int_stages_mapped') }}
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

pipeline_stages as (
    select distinct
        source_system,
        pipeline_name as pipeline,
        canonical_stage,
        canonical_stage_order
    from stages
    where
        not coalesce(is_deleted, false)
        and canonical_stage <> 'Unmapped'
        and pipeline_name is not null
),

pipeline_stages_ordered as (
    select
        *,
        row_number() over (
            partition by source_system, pipeline order by canonical_stage_order
        ) as stage_position,
        lead(canonical_stage) over (
            partition by source_system, pipeline order by canonical_stage_order
        ) as next_canonical_stage
    from pipeline_stages
),

deals as (
    select
        cases.case_id,
        cases.source_system,
        cases.pipeline,
        cases.won_at is not null and cases.won_at <= as_of.as_of as is_won
    from cases
    inner join as_of
        on cases.source_system = as_of.source_system
    -- a deal without a creation time still counts (data_quality_issues: case_without_start)
    where cases.deal_created_at is null or cases.deal_created_at <= as_of.as_of
),

entered_stages as (
    select distinct
        case_id,
        canonical_stage
    from visits
),

lost_stages as (
    select
        case_id,
        canonical_stage
    from visits
    where exit_reason = 'lost'
),

current_stages as (
    select
        case_id,
        canonical_stage
    from visits
    where is_current_visit
),

deal_stage_grid as (
    select
        deals.case_id,
        deals.source_system,
        deals.pipeline,
        deals.is_won,
        pipeline_stages_ordered.canonical_stage,
        pipeline_stages_ordered.stage_position,
        entered_stages.case_id is not null as is_entered,
        lost_stages.case_id is not null as is_lost_here,
        current_stages.case_id is not null as is_open_here
    from deals
    inner join pipeline_stages_ordered
        on
            deals.source_system = pipeline_stages_ordered.source_system
            and deals.pipeline = pipeline_stages_ordered.pipeline
    left join entered_stages
        on
            deals.case_id = entered_stages.case_id
            and pipeline_stages_ordered.canonical_stage = entered_stages.canonical_stage
    left join lost_stages
        on
            deals.case_id = lost_stages.case_id
            and pipeline_stages_ordered.canonical_stage = lost_stages.canonical_stage
    left join current_stages
        on
            deals.case_id = current_stages.case_id
            and pipeline_stages_ordered.canonical_stage = current_stages.canonical_stage
),

deal_stage_reach as (
    select
        *,
        sum(case when is_entered then 1 else 0 end) over (
            partition by case_id
            order by stage_position
            rows between unbounded preceding and current row
        ) = stage_position as is_strict,
        coalesce(
            lead(is_entered) over (partition by case_id order by stage_position), false
        ) as is_next_entered
    from deal_stage_grid
),

reach as (
    select
        source_system,
        pipeline,
        canonical_stage,
        count(*) as deals_count,
        sum(case when is_entered then 1 else 0 end) as reached_any_count,
        sum(case when is_entered and is_strict then 1 else 0 end) as reached_strict_count,
        sum(case when is_entered and is_next_entered then 1 else 0 end)
            as reached_this_and_next_count,
        sum(case when is_entered and is_won then 1 else 0 end) as won_after_reaching_count,
        sum(case when is_lost_here then 1 else 0 end) as lost_from_stage_count,
        sum(case when is_open_here then 1 else 0 end) as open_in_stage_count
    from deal_stage_reach
    group by source_system, pipeline, canonical_stage
),

durations as (
    select
        source_system,
        pipeline,
        canonical_stage,
        sum(case when is_censored then 0 else 1 end) as completed_visits_count,
        sum(case when is_censored then 1 else 0 end) as censored_visits_count,
        {{ median('duration_days') }} as median_days_in_stage,
        {{ percentile_cont('duration_days', 0.9) }} as p90_days_in_stage
    from visits
    group by source_system, pipeline, canonical_stage
),

joined as (
    select
        pipeline_stages_ordered.source_system,
        pipeline_stages_ordered.pipeline,
        pipeline_stages_ordered.canonical_stage,
        pipeline_stages_ordered.canonical_stage_order,
        pipeline_stages_ordered.stage_position,
        pipeline_stages_ordered.next_canonical_stage,
        durations.median_days_in_stage,
        durations.p90_days_in_stage,
        coalesce(reach.deals_count, 0) as deals_count,
        coalesce(reach.reached_any_count, 0) as reached_any_count,
        coalesce(reach.reached_strict_count, 0) as reached_strict_count,
        coalesce(reach.reached_this_and_next_count, 0) as reached_this_and_next_count,
        coalesce(reach.won_after_reaching_count, 0) as won_after_reaching_count,
        coalesce(reach.lost_from_stage_count, 0) as lost_from_stage_count,
        coalesce(reach.open_in_stage_count, 0) as open_in_stage_count,
        coalesce(durations.completed_visits_count, 0) as completed_visits_count,
        coalesce(durations.censored_visits_count, 0) as censored_visits_count
    from pipeline_stages_ordered
    left join reach
        on
            pipeline_stages_ordered.source_system = reach.source_system
            and pipeline_stages_ordered.pipeline = reach.pipeline
            and pipeline_stages_ordered.canonical_stage = reach.canonical_stage
    left join durations
        on
            pipeline_stages_ordered.source_system = durations.source_system
            and pipeline_stages_ordered.pipeline = durations.pipeline
            and pipeline_stages_ordered.canonical_stage = durations.canonical_stage
),

with_next as (
    select
        *,
        lead(reached_strict_count) over (
            partition by source_system, pipeline order by stage_position
        ) as next_reached_strict_count
    from joined
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(pipeline as {{ dbt.type_string() }}) as pipeline,
        cast(canonical_stage as {{ dbt.type_string() }}) as canonical_stage,
        cast(canonical_stage_order as {{ dbt.type_int() }}) as canonical_stage_order,
        cast(stage_position as {{ dbt.type_int() }}) as stage_position,
        cast(next_canonical_stage as {{ dbt.type_string() }}) as next_canonical_stage,
        cast(deals_count as {{ dbt.type_bigint() }}) as deals_count,
        cast(reached_any_count as {{ dbt.type_bigint() }}) as reached_any_count,
        cast(reached_strict_count as {{ dbt.type_bigint() }}) as reached_strict_count,
        cast(
            case
                when deals_count > 0
                    then cast(reached_any_count as {{ type_double() }}) / deals_count
            end as {{ type_double() }}
        ) as reached_any_share,
        cast(
            case
                when deals_count > 0
                    then cast(reached_strict_count as {{ type_double() }}) / deals_count
            end as {{ type_double() }}
        ) as reached_strict_share,
        cast(reached_this_and_next_count as {{ dbt.type_bigint() }})
            as reached_this_and_next_count,
        cast(
            case
                when next_canonical_stage is not null and reached_any_count > 0
                    then
                        cast(reached_this_and_next_count as {{ type_double() }})
                        / reached_any_count
            end as {{ type_double() }}
        ) as conversion_to_next_any,
        cast(
            case
                when reached_strict_count > 0
                    then
                        cast(next_reached_strict_count as {{ type_double() }})
                        / reached_strict_count
            end as {{ type_double() }}
        ) as conversion_to_next_strict,
        cast(won_after_reaching_count as {{ dbt.type_bigint() }}) as won_after_reaching_count,
        cast(lost_from_stage_count as {{ dbt.type_bigint() }}) as lost_from_stage_count,
        cast(
            case
                when reached_any_count > 0
                    then cast(lost_from_stage_count as {{ type_double() }}) / reached_any_count
            end as {{ type_double() }}
        ) as loss_rate,
        cast(open_in_stage_count as {{ dbt.type_bigint() }}) as open_in_stage_count,
        cast(completed_visits_count as {{ dbt.type_bigint() }}) as completed_visits_count,
        cast(censored_visits_count as {{ dbt.type_bigint() }}) as censored_visits_count,
        cast(median_days_in_stage as {{ type_double() }}) as median_days_in_stage,
        cast(p90_days_in_stage as {{ type_double() }}) as p90_days_in_stage
    from with_next
)

select * from final
