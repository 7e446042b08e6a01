-- Calls (/v2/calls) as activities: type call, done when made (made_at) unless missed. A call
-- on a lead (resource_type lead) gives lead_key; the Core API lists no emails or meetings,
-- and calls on deals (associated_deal_ids, a list) are not linked here.
with source as (
    {{ select_source_columns('zendesk_sell', 'calls', [
        'id:bigint', 'summary:string', 'user_id:bigint', 'resource_type:string',
        'resource_id:bigint', 'missed:boolean', 'made_at:timestamptz',
        'created_at:timestamptz',
    ]) }}
),

renamed as (
    select
        'zendesk_sell' as source_system,
        {{ make_key('zendesk_sell', 'id', 'call') }} as activity_key,
        cast(id as {{ dbt.type_string() }}) as activity_id,
        'call' as activity_type,
        summary as subject,
        cast(null as {{ dbt.type_string() }}) as deal_key,
        {{ make_key('zendesk_sell', 'user_id') }} as owner_user_key,
        not coalesce(missed, false) as is_done,
        case
            when not coalesce(missed, false) then {{ to_utc_timestamp('made_at') }}
        end as done_at,
        cast(null as date) as due_date,
        {{ to_utc_timestamp('created_at') }} as created_at,
        case
            when lower(resource_type) = 'lead'
                then {{ make_key('zendesk_sell', 'resource_id') }}
        end as lead_key
    from source
),

final as (
    {{ select_canonical('activities') }}
)

select * from final
