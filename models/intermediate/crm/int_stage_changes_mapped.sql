-- Stage entries per deal, mapped to canonical stages.
-- A deal's creation is not a change in the source, so a synthetic creation entry is added at
-- the deal's created_at: its stage is the first change's from-stage, or the deal's current
-- stage when it never changed stage. When that stage is unknown (a CRM whose history is
-- reconstructed from snapshots did not see it), there is no creation entry: the log does not
-- claim a stage nobody observed.
with deals as (
    select * from {{ ref('int_deals_filtered') }}
),

changes as (
    select changes.*
    from {{ ref('int_stage_changes_unioned') }} as changes
    inner join deals
        on
            changes.deal_key = deals.deal_key
            and changes.source_system = deals.source_system
),

stages as (
    select * from {{ ref('int_stages_mapped') }}
),

first_changes as (
    select
        source_system,
        deal_key,
        from_stage_key,
        row_number() over (
            partition by source_system, deal_key
            order by changed_at, stage_change_id
        ) as change_rank
    from changes
),

creation_entries as (
    select
        deals.source_system,
        deals.deal_key,
        {{ dbt.concat(["deals.deal_key", "':creation'"]) }} as stage_entry_key,
        'creation' as source_row_id,
        deals.created_at as entered_at,
        case
            when first_changes.deal_key is not null then first_changes.from_stage_key
            else deals.stage_key
        end as stage_key,
        deals.owner_user_key as user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        true as is_creation_entry
    from deals
    left join first_changes
        on
            deals.deal_key = first_changes.deal_key
            and deals.source_system = first_changes.source_system
            and first_changes.change_rank = 1
    where
        (first_changes.deal_key is not null and first_changes.from_stage_key is not null)
        or (first_changes.deal_key is null and deals.stage_key is not null)
),

change_entries as (
    select
        source_system,
        deal_key,
        stage_change_key as stage_entry_key,
        stage_change_id as source_row_id,
        changed_at as entered_at,
        to_stage_key as stage_key,
        user_key,
        is_automated,
        false as is_creation_entry
    from changes
),

entries as (
    select * from creation_entries
    union all
    select * from change_entries
),

mapped as (
    select
        entries.*,
        stages.stage_name,
        stages.pipeline_name,
        stages.canonical_stage_order,
        coalesce(stages.canonical_stage, 'Unmapped') as canonical_stage
    from entries
    left join stages
        on
            entries.stage_key = stages.stage_key
            and entries.source_system = stages.source_system
),

sequenced as (
    select
        *,
        lag(canonical_stage_order) over (
            partition by source_system, deal_key
            order by entered_at asc, is_creation_entry desc, source_row_id asc
        ) as previous_canonical_stage_order
    from mapped
),

final as (
    select
        *,
        coalesce(canonical_stage_order < previous_canonical_stage_order, false)
            as is_backward_move
    from sequenced
)

select * from final
