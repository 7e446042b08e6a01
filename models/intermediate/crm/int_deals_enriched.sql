-- Deals (not deleted) with owner, team, pipeline, current canonical stage and line discount
-- (int_deal_lines_aggregated: exact in cents; the amounts here in major units).
with deals as (
    select * from {{ ref('int_deals_filtered') }}
),

users as (
    select * from {{ ref('int_users_enriched') }}
),

stages as (
    select * from {{ ref('int_stages_mapped') }}
),

pipelines as (
    select * from {{ ref('int_pipelines_unioned') }}
),

lines as (
    select * from {{ ref('int_deal_lines_aggregated') }}
),

final as (
    select
        deals.*,
        users.user_name as owner_name,
        users.team_name,
        pipelines.pipeline_name,
        stages.stage_name,
        stages.canonical_stage,
        {{ from_minor_units('lines.list_minor') }} as lines_list_amount,
        {{ from_minor_units('lines.net_minor') }} as lines_net_amount,
        lines.discount_pct
    from deals
    left join users
        on
            deals.owner_user_key = users.user_key
            and deals.source_system = users.source_system
    left join pipelines
        on
            deals.pipeline_key = pipelines.pipeline_key
            and deals.source_system = pipelines.source_system
    left join stages
        on
            deals.stage_key = stages.stage_key
            and deals.source_system = stages.source_system
    left join lines
        on
            deals.deal_key = lines.deal_key
            and deals.source_system = lines.source_system
)

select * from final
