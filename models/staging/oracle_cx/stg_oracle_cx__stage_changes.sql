-- Stage changes from opportunityStageSnapshots (one row per stage visit). A visit that has a
-- previous visit of the same opportunity (by StgEnterDate) is a move from that stage; the
-- first visit is the creation stage, which the intermediate layer adds from the deal itself.
-- Snapshots name the user (CreatedBy) but not its PartyId, so user_key stays null; changes by
-- the integration users of var oracle_cx_integration_users are automated.
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
with source as (
    {{ select_source_columns('oracle_cx', 'stage_snapshots', [
        'opty_stg_snapshot_id:bigint', 'opty_id:bigint', 'stg_id:bigint',
        'stg_enter_date:timestamptz', 'created_by:string',
    ]) }}
),

sequenced as (
    select
        *,
        lag(stg_id) over (
            partition by opty_id
            order by stg_enter_date asc, opty_stg_snapshot_id asc
        ) as previous_stg_id
    from source
),

renamed as (
    select
        'oracle_cx' as source_system,
        {{ make_key('oracle_cx', 'opty_stg_snapshot_id') }} as stage_change_key,
        cast(opty_stg_snapshot_id as {{ dbt.type_string() }}) as stage_change_id,
        {{ make_key('oracle_cx', 'opty_id') }} as deal_key,
        {{ to_utc_timestamp('stg_enter_date') }} as changed_at,
        {{ make_key('oracle_cx', 'previous_stg_id') }} as from_stage_key,
        {{ make_key('oracle_cx', 'stg_id') }} as to_stage_key,
        cast(null as {{ dbt.type_string() }}) as user_key,
        case
            when created_by is null then null
            when upper(created_by) in (
                {%- for u in var('oracle_cx_integration_users', ['OIC_INTEGRATION']) -%}
                    '{{ u | upper }}'{{ ", " if not loop.last }}
                {%- endfor -%}
            ) then true
            else false
        end as is_automated
    from sequenced
    where previous_stg_id is not null
),

final as (
    {{ select_canonical('stage_changes') }}
)

select * from final
