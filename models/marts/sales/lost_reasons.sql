-- Lost deals by the stage they were lost at and their lost reason. One row per
-- (source_system, pipeline, stage_lost_at, lost_reason) with at least one deal lost at or
-- before as_of. stage_lost_at is the canonical stage of the deal's last stage visit (the one
-- its loss ended); '(none)' when the deal has no stage history. A missing reason is '(none)'.
with cases as (
    select * from {{ ref('cases') }}
    where case_type = 'deal'
),

visits as (
    select * from {{ ref('stage_durations') }}
    where exit_reason = 'lost'
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

lost_deals as (
    select
        cases.case_id,
        cases.source_system,
        cases.deal_value_reporting,
        visits.canonical_stage_order as stage_lost_at_order,
        cases.deal_value is not null and cases.deal_value_reporting is null as is_fx_missing,
        coalesce(cases.pipeline, '(none)') as pipeline,
        coalesce(visits.canonical_stage, '(none)') as stage_lost_at,
        coalesce(cases.lost_reason, '(none)') as lost_reason
    from cases
    inner join as_of
        on cases.source_system = as_of.source_system
    left join visits
        on cases.case_id = visits.case_id
    where cases.outcome = 'lost' and cases.lost_at <= as_of.as_of
),

aggregated as (
    select
        source_system,
        pipeline,
        stage_lost_at,
        lost_reason,
        min(stage_lost_at_order) as stage_lost_at_order,
        count(*) as lost_count,
        {{ unless_fx_missing('sum(deal_value_reporting)', 'is_fx_missing') }}
            as lost_value_reporting
    from lost_deals
    group by source_system, pipeline, stage_lost_at, lost_reason
),

shares as (
    select
        *,
        sum(lost_count) over (
            partition by source_system, pipeline, stage_lost_at
        ) as stage_lost_count,
        sum(lost_count) over (partition by source_system, pipeline) as pipeline_lost_count
    from aggregated
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(pipeline as {{ dbt.type_string() }}) as pipeline,
        cast(stage_lost_at as {{ dbt.type_string() }}) as stage_lost_at,
        cast(stage_lost_at_order as {{ dbt.type_int() }}) as stage_lost_at_order,
        cast(lost_reason as {{ dbt.type_string() }}) as lost_reason,
        cast(lost_count as {{ dbt.type_bigint() }}) as lost_count,
        cast(lost_value_reporting as {{ type_double() }}) as lost_value_reporting,
        cast(
            cast(lost_count as {{ type_double() }}) / stage_lost_count as {{ type_double() }}
        ) as share_of_stage_losses,
        cast(
            cast(lost_count as {{ type_double() }}) / pipeline_lost_count
            as {{ type_double() }}
        ) as share_of_pipeline_losses
    from shares
)

select * from final
