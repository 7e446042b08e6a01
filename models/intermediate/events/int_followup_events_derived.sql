-- Follow-up family: the first done customer-facing activity of the deal at or after each
-- Quote Sent and before the next Quote Sent of the same deal.
with quote_events as (
    select * from {{ ref('int_quote_events_derived') }}
    where activity = 'Quote Sent'
),

activities as (
    select * from {{ ref('int_activities_filtered') }}
),

quote_windows as (
    select
        case_id,
        source_system,
        object_id as quote_key,
        event_at as quote_sent_at,
        lead(event_at) over (
            partition by source_system, case_id
            order by event_at, object_id
        ) as next_quote_sent_at
    from quote_events
),

matched as (
    select
        quote_windows.case_id,
        quote_windows.quote_key,
        activities.activity_key,
        activities.activity_id,
        activities.source_system,
        activities.done_at,
        activities.owner_user_key,
        row_number() over (
            partition by quote_windows.source_system, quote_windows.quote_key
            order by activities.done_at, activities.activity_key
        ) as followup_rank
    from quote_windows
    inner join activities
        on
            quote_windows.case_id = activities.deal_key
            and quote_windows.source_system = activities.source_system
            and quote_windows.quote_sent_at <= activities.done_at
            and (
                quote_windows.next_quote_sent_at is null
                or quote_windows.next_quote_sent_at > activities.done_at
            )
),

final as (
    select
        case_id,
        'Follow-up Activity' as activity,
        done_at as event_at,
        'activity' as object_type,
        activity_key as object_id,
        source_system,
        activity_id as source_row_id,
        owner_user_key as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        cast(null as {{ type_double() }}) as amount,
        cast(null as {{ dbt.type_string() }}) as currency
    from matched
    where followup_rank = 1
)

select * from final
