-- Tasks. activity_type = lower(Type) (call, email, meeting, other); a task is linked to a deal
-- when its WhatId is an opportunity (key prefix 006), to a lead when its WhoId is a lead
-- (key prefix 00Q).
with source as (
    {{ select_source_columns('salesforce', 'tasks', [
        'id:string', 'subject:string', 'type:string', 'task_subtype:string', 'what_id:string',
        'who_id:string', 'owner_id:string', 'is_closed:boolean', 'completed_date_time:timestamptz',
        'activity_date:string', 'created_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as activity_key,
        id as activity_id,
        lower(coalesce(type, task_subtype)) as activity_type,
        subject,
        case
            when what_id like '006%' then {{ make_key('salesforce', 'what_id') }}
        end as deal_key,
        {{ make_key('salesforce', 'owner_id') }} as owner_user_key,
        coalesce(is_closed, false) as is_done,
        {{ to_utc_timestamp('completed_date_time') }} as done_at,
        {{ text_to_date("nullif(trim(activity_date), '')") }} as due_date,
        {{ to_utc_timestamp('created_date') }} as created_at,
        case
            when who_id like '00Q%' then {{ make_key('salesforce', 'who_id') }}
        end as lead_key
    from source
),

final as (
    {{ select_canonical('activities') }}
)

select * from final
