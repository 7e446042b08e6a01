-- Stage entries reconstructed from raw deal_stage_snapshots: each snapshot is one stage entry a
-- scheduled load observed (the deal was in stage_id, entered at last_stage_change_at). What this
-- can and cannot see is in docs/zendesk-sell-history.md.
--   * Entries into open stages are stage changes; entries into Won / Lost / Unqualified are the
--     deal's outcome (stg_zendesk_sell__deals won_at / lost_at) and are not stage changes.
--   * from_stage_key is the previous open stage observed; null when no load saw the deal open
--     before this entry (it was created or re-opened and moved between two loads, or before the
--     first load), so int_stage_changes_mapped adds no creation entry with a guessed stage.
--   * The first observation is not a change when it is the creation itself (entered within a
--     minute of created_at): the creation entry carries that stage.
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
with source as (
    {{ select_source_columns('zendesk_sell', 'deal_stage_snapshots', [
        'snapshot_id:string', 'id:bigint', 'stage_id:bigint', 'stage_category:string',
        'last_stage_change_at:timestamptz', 'last_stage_change_by_id:bigint',
        'created_at:timestamptz',
    ]) }}
),

observations as (
    select
        *,
        coalesce(lower(stage_category) in ('won', 'lost', 'unqualified'), false) as is_outcome,
        coalesce(last_stage_change_at, created_at) as entered_at
    from source
),

sequenced as (
    select
        *,
        row_number() over (
            partition by id order by entered_at, snapshot_id
        ) as observation_rank,
        lag(stage_id) over (
            partition by id, is_outcome order by entered_at, snapshot_id
        ) as previous_open_stage_id
    from observations
),

open_entries as (
    select *
    from sequenced
    where
        not is_outcome
        and not (
            observation_rank = 1
            and entered_at <= {{ dbt.dateadd('second', 60, 'created_at') }}
        )
),

renamed as (
    select
        'zendesk_sell' as source_system,
        {{ make_key('zendesk_sell', 'snapshot_id') }} as stage_change_key,
        snapshot_id as stage_change_id,
        {{ make_key('zendesk_sell', 'id') }} as deal_key,
        {{ to_utc_timestamp('entered_at') }} as changed_at,
        {{ make_key('zendesk_sell', 'previous_open_stage_id') }} as from_stage_key,
        {{ make_key('zendesk_sell', 'stage_id') }} as to_stage_key,
        {{ make_key('zendesk_sell', 'last_stage_change_by_id') }} as user_key,
        -- Zendesk Sell does not say whether a person or an integration moved the deal
        cast(null as {{ dbt.type_boolean() }}) as is_automated
    from open_entries
),

final as (
    {{ select_canonical('stage_changes') }}
)

select * from final
