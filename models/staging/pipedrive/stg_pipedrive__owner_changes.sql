-- Deal owner changes from the v1 deal flow (dealChange rows with field_key = 'user_id': the
-- deal's owner; old_value / new_value are user ids as text). user_id = who made the change.
-- Pipedrive leads have no change history in the API: lead owner changes are not observable.
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
with source as (
    {{ select_source_columns('pipedrive', 'deal_changes', [
        'id:bigint', 'deal_id:bigint', 'user_id:bigint', 'field_key:string',
        'old_value:string', 'new_value:string', 'log_time:timestamptz',
    ]) }}
),

owner_moves as (
    select *
    from source
    where field_key = 'user_id'
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id') }} as owner_change_key,
        cast(id as {{ dbt.type_string() }}) as owner_change_id,
        'deal' as object_type,
        {{ make_key('pipedrive', 'deal_id') }} as deal_key,
        cast(null as {{ dbt.type_string() }}) as lead_key,
        {{ to_utc_timestamp('log_time') }} as changed_at,
        {{ make_key('pipedrive', "nullif(trim(old_value), '')") }} as from_user_key,
        {{ make_key('pipedrive', "nullif(trim(new_value), '')") }} as to_user_key,
        {{ make_key('pipedrive', 'user_id') }} as changed_by_user_key
    from owner_moves
),

final as (
    {{ select_canonical('owner_changes') }}
)

select * from final
