-- Approval history (ProcessInstanceStep): one row per step of an approval request. Started is
-- the submission (actor = the submitter); Approved / Rejected the decision (actor = the
-- approver). deal_key when the request's target is an opportunity (key prefix 006).
with source as (
    {{ select_source_columns('salesforce', 'process_instance_steps', [
        'id:string', 'process_instance_id:string',
        'process_instance__target_object_id:string', 'step_status:string',
        'actor_id:string', 'created_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as approval_step_key,
        id as approval_step_id,
        {{ make_key('salesforce', 'process_instance_id') }} as approval_key,
        case
            when process_instance__target_object_id like '006%'
                then {{ make_key('salesforce', 'process_instance__target_object_id') }}
        end as deal_key,
        case lower(step_status)
            when 'started' then 'requested'
            else lower(step_status)
        end as step_status,
        {{ make_key('salesforce', 'actor_id') }} as actor_user_key,
        {{ to_utc_timestamp('created_date') }} as acted_at
    from source
),

final as (
    {{ select_canonical('approval_steps') }}
)

select * from final
