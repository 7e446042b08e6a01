-- Every source stage with its pipeline and canonical stage (seed stage_mapping).
-- Stages missing from the seed map to 'Unmapped' (warned by a data test), never vanish.
with stages as (
    select * from {{ ref('int_stages_unioned') }}
),

pipelines as (
    select * from {{ ref('int_pipelines_unioned') }}
),

mapping as (
    select * from {{ ref('stage_mapping') }}
),

canonical_stages as (
    select * from {{ ref('canonical_stages') }}
),

joined as (
    select
        stages.stage_key,
        stages.stage_id,
        stages.source_system,
        stages.pipeline_key,
        pipelines.pipeline_name,
        stages.stage_name,
        stages.stage_order,
        stages.is_deleted,
        canonical_stages.stage_order as canonical_stage_order,
        coalesce(mapping.canonical_stage, 'Unmapped') as canonical_stage
    from stages
    left join pipelines
        on
            stages.pipeline_key = pipelines.pipeline_key
            and stages.source_system = pipelines.source_system
    left join mapping
        on
            stages.source_system = mapping.source_system
            and pipelines.pipeline_name = mapping.pipeline_name
            and stages.stage_name = mapping.stage_name
    left join canonical_stages
        on mapping.canonical_stage = canonical_stages.canonical_stage
),

final as (
    select * from joined
)

select * from final
