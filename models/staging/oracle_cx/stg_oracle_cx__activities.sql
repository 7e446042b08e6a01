-- Activities (/activities): tasks and appointments. An activity on a lead (LeadId) gives
-- lead_key; one on an opportunity (OptyId) gives deal_key. Done = StatusCode COMPLETE, at
-- ActivityEndDate; the type is ActivityTypeCode (CALL, EMAIL, MEETING, ...), lowercased.
with source as (
    {{ select_source_columns('oracle_cx', 'activities', [
        'activity_id:bigint', 'subject:string', 'activity_type_code:string',
        'status_code:string', 'owner_id:bigint', 'lead_id:bigint', 'opty_id:bigint',
        'activity_end_date:timestamptz', 'creation_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'oracle_cx' as source_system,
        {{ make_key('oracle_cx', 'activity_id') }} as activity_key,
        cast(activity_id as {{ dbt.type_string() }}) as activity_id,
        lower(activity_type_code) as activity_type,
        subject,
        {{ make_key('oracle_cx', 'opty_id') }} as deal_key,
        {{ make_key('oracle_cx', 'owner_id') }} as owner_user_key,
        coalesce(upper(status_code) = 'COMPLETE', false) as is_done,
        case
            when upper(status_code) = 'COMPLETE'
                then {{ to_utc_timestamp('activity_end_date') }}
        end as done_at,
        cast(null as date) as due_date,
        {{ to_utc_timestamp('creation_date') }} as created_at,
        {{ make_key('oracle_cx', 'lead_id') }} as lead_key
    from source
),

final as (
    {{ select_canonical('activities') }}
)

select * from final
