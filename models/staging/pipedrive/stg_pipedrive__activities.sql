-- Activities; lead_key for an activity on a lead (lead_id).
with source as (
    {{ select_source_columns('pipedrive', 'activities', [
        'id:bigint', 'subject:string', 'type:string', 'owner_id:bigint', 'deal_id:bigint',
        'done:boolean', 'due_date:string', 'marked_as_done_time:timestamptz',
        'add_time:timestamptz', 'lead_id:string',
    ]) }}
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id') }} as activity_key,
        cast(id as {{ dbt.type_string() }}) as activity_id,
        lower(type) as activity_type,
        subject,
        {{ make_key('pipedrive', 'deal_id') }} as deal_key,
        {{ make_key('pipedrive', 'owner_id') }} as owner_user_key,
        coalesce(done, false) as is_done,
        {{ to_utc_timestamp('marked_as_done_time') }} as done_at,
        {{ text_to_date("nullif(trim(due_date), '')") }} as due_date,
        {{ to_utc_timestamp('add_time') }} as created_at,
        -- an activity on a lead (a lead is no deal: no deal_id)
        {{ make_key('pipedrive', "nullif(trim(lead_id), '')") }} as lead_key
    from source
),

final as (
    {{ select_canonical('activities') }}
)

select * from final
