-- Stage visits: every stage entry of a deal up to the as-of instant, with where it ended.
-- A visit ends at the deal's next stage entry, else at the deal's close (won / lost) when that
-- is at or before as_of; a visit that has not ended is censored at as_of (is_censored), never
-- a short completed duration.
-- Order within a deal is deterministic on equal timestamps: creation entry first, then the
-- source row id in natural order (shorter ids first, so change 9 precedes change 10).
with entries as (
    select * from {{ ref('int_stage_changes_mapped') }}
),

deals as (
    select * from {{ ref('int_deals_filtered') }}
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

deals_at_as_of as (
    select
        deals.source_system,
        deals.deal_key,
        as_of.as_of,
        case
            when deals.status = 'won' and deals.won_at <= as_of.as_of then deals.won_at
            when deals.status = 'lost' and deals.lost_at <= as_of.as_of then deals.lost_at
        end as closed_at,
        case
            when deals.status = 'won' and deals.won_at <= as_of.as_of then 'won'
            when deals.status = 'lost' and deals.lost_at <= as_of.as_of then 'lost'
        end as close_reason
    from deals
    inner join as_of
        on deals.source_system = as_of.source_system
    -- a deal without a creation time still counts (data_quality_issues: case_without_start)
    where deals.created_at is null or deals.created_at <= as_of.as_of
),

visible_entries as (
    select
        entries.source_system,
        entries.deal_key,
        entries.stage_entry_key,
        entries.source_row_id,
        entries.entered_at,
        entries.stage_key,
        entries.stage_name,
        entries.pipeline_name,
        entries.canonical_stage,
        entries.canonical_stage_order,
        entries.is_creation_entry,
        entries.is_automated,
        deals_at_as_of.as_of,
        deals_at_as_of.closed_at,
        deals_at_as_of.close_reason
    from entries
    inner join deals_at_as_of
        on
            entries.deal_key = deals_at_as_of.deal_key
            and entries.source_system = deals_at_as_of.source_system
    where entries.entered_at <= deals_at_as_of.as_of
),

sequenced as (
    select
        *,
        row_number() over (
            partition by source_system, deal_key
            order by
                entered_at asc,
                is_creation_entry desc,
                {{ dbt.length('source_row_id') }} asc,
                source_row_id asc
        ) as visit_number
    from visible_entries
),

neighbours as (
    select
        *,
        lead(entered_at) over (
            partition by source_system, deal_key order by visit_number
        ) as next_entered_at,
        lag(canonical_stage_order) over (
            partition by source_system, deal_key order by visit_number
        ) as previous_canonical_stage_order,
        row_number() over (
            partition by source_system, deal_key, canonical_stage order by visit_number
        ) as stage_entry_number,
        count(*) over (partition by source_system, deal_key) as visits_count
    from sequenced
),

bounded as (
    select
        *,
        coalesce(next_entered_at, closed_at) as left_at,
        case
            when next_entered_at is not null then 'stage_change'
            else close_reason
        end as exit_reason
    from neighbours
),

final as (
    select
        source_system,
        deal_key,
        stage_entry_key,
        source_row_id,
        visit_number,
        visits_count,
        entered_at,
        left_at,
        exit_reason,
        stage_key,
        stage_name,
        pipeline_name,
        canonical_stage,
        canonical_stage_order,
        is_creation_entry,
        is_automated,
        stage_entry_number,
        as_of,
        left_at is null as is_censored,
        visit_number = visits_count and close_reason is null as is_current_visit,
        coalesce(canonical_stage_order < previous_canonical_stage_order, false)
            as is_backward_move,
        canonical_stage <> 'Unmapped' and stage_entry_number > 1 as is_repeat_entry,
        {{ days_between('entered_at', 'coalesce(left_at, as_of)') }} as elapsed_days
    from bounded
)

select * from final
