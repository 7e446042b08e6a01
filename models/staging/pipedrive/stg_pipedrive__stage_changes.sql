-- Stage moves from the v1 deal flow (dealChange rows with field_key = 'stage_id').
-- Stage ids arrive as text in old_value / new_value.
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
with source as (
    {{ select_source_columns('pipedrive', 'deal_changes', [
        'id:bigint', 'deal_id:bigint', 'user_id:bigint', 'field_key:string',
        'old_value:string', 'new_value:string', 'log_time:timestamptz',
        'change_source:string',
    ]) }}
),

stage_moves as (
    select *
    from source
    where field_key = 'stage_id'
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id') }} as stage_change_key,
        cast(id as {{ dbt.type_string() }}) as stage_change_id,
        {{ make_key('pipedrive', 'deal_id') }} as deal_key,
        {{ to_utc_timestamp('log_time') }} as changed_at,
        {{ make_key('pipedrive', "nullif(trim(old_value), '')") }} as from_stage_key,
        {{ make_key('pipedrive', "nullif(trim(new_value), '')") }} as to_stage_key,
        {{ make_key('pipedrive', 'user_id') }} as user_key,
        case
            when lower(change_source) = 'api' then true
            when lower(change_source) = 'app' then false
        end as is_automated
    from stage_moves
),

final as (
    {{ select_canonical('stage_changes') }}
)

select * from final
