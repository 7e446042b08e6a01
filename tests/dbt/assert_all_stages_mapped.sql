-- Every source stage should map to a canonical stage via seed stage_mapping.
-- Unmapped stages stay in the log as 'Stage Entered: Unmapped'; this only warns.
{{ config(severity='warn') }}

with stages as (
    select * from {{ ref('int_stages_mapped') }}
),

final as (
    select
        source_system,
        pipeline_name,
        stage_name,
        stage_key
    from stages
    where canonical_stage = 'Unmapped'
)

select * from final
