-- Owner changes of opportunities (OpportunityFieldHistory) and leads (LeadHistory), Field =
-- 'Owner' when the org tracks it. Salesforce writes two rows per owner change, one with the
-- user ids and one with the names: only the id row is kept (values that are user ids, key
-- prefix 005). changed_by = the history row's CreatedById.
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
with opportunity_rows as (
    {{ select_source_columns('salesforce', 'opportunity_field_history', [
        'id:string', 'opportunity_id:string', 'field:string', 'old_value:string',
        'new_value:string', 'created_date:timestamptz', 'created_by_id:string',
    ]) }}
),

lead_rows as (
    {{ select_source_columns('salesforce', 'lead_history', [
        'id:string', 'lead_id:string', 'field:string', 'old_value:string',
        'new_value:string', 'created_date:timestamptz', 'created_by_id:string',
    ]) }}
),

history as (
    select
        id,
        'deal' as object_type,
        opportunity_id as deal_id,
        cast(null as {{ dbt.type_string() }}) as lead_id,
        field,
        old_value,
        new_value,
        created_date,
        created_by_id
    from opportunity_rows
    union all
    select
        id,
        'lead' as object_type,
        cast(null as {{ dbt.type_string() }}) as deal_id,
        lead_id,
        field,
        old_value,
        new_value,
        created_date,
        created_by_id
    from lead_rows
),

owner_moves as (
    select *
    from history
    where
        field = 'Owner'
        and new_value like '005%'
        and {{ dbt.length('new_value') }} in (15, 18)
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as owner_change_key,
        id as owner_change_id,
        object_type,
        {{ make_key('salesforce', 'deal_id') }} as deal_key,
        {{ make_key('salesforce', 'lead_id') }} as lead_key,
        {{ to_utc_timestamp('created_date') }} as changed_at,
        {{ make_key('salesforce', "nullif(trim(old_value), '')") }} as from_user_key,
        {{ make_key('salesforce', 'new_value') }} as to_user_key,
        {{ make_key('salesforce', 'created_by_id') }} as changed_by_user_key
    from owner_moves
),

final as (
    {{ select_canonical('owner_changes') }}
)

select * from final
