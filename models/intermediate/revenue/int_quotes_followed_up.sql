-- One row per Quote Sent with its follow-up: the event log's Follow-up Activity of that quote
-- (the first done customer-facing activity of the deal at or after the quote and before the
-- deal's next Quote Sent, int_followup_events_derived), the delay, and whether it came within
-- var follow_up_within_days. The flag is null while the window is still open at as_of
-- (censored: no follow-up yet and fewer than N days since the quote).
{%- set window_seconds = (var('follow_up_within_days') * 86400) | int %}

with quote_events as (
    select * from {{ ref('int_quote_events_derived') }}
    where activity = 'Quote Sent'
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

followup_events as (
    select followups.*
    from {{ ref('int_followup_events_derived') }} as followups
    inner join as_of
        on followups.source_system = as_of.source_system
    where followups.event_at <= as_of.as_of
),

quote_windows as (
    select
        object_id as quote_key,
        source_row_id as quote_id,
        source_system,
        case_id as deal_key,
        event_at as quote_sent_at,
        lead(event_at) over (
            partition by source_system, case_id
            order by event_at, object_id
        ) as next_quote_sent_at,
        coalesce(
            lead(event_at) over (
                partition by source_system, case_id
                order by event_at, object_id
            ),
            cast('9999-12-31 00:00:00' as {{ dbt.type_timestamp() }})
        ) as window_ends_at,
        row_number() over (
            partition by source_system, case_id
            order by event_at, object_id
        ) as quote_number,
        count(*) over (partition by source_system, case_id) as deal_quotes_count
    from quote_events
),

matched as (
    select
        quote_windows.*,
        as_of.as_of,
        followup_events.object_id as follow_up_activity_key,
        followup_events.event_at as follow_up_at
    from quote_windows
    inner join as_of
        on quote_windows.source_system = as_of.source_system
    left join followup_events
        on
            quote_windows.deal_key = followup_events.case_id
            and quote_windows.source_system = followup_events.source_system
            and quote_windows.quote_sent_at <= followup_events.event_at
            and quote_windows.window_ends_at > followup_events.event_at
),

measured as (
    select
        *,
        {{ dbt.datediff('quote_sent_at', 'follow_up_at', 'second') }}
            as follow_up_delay_seconds,
        {{ dbt.datediff('quote_sent_at', 'as_of', 'second') }}
            as seconds_since_quote
    from matched
),

final as (
    select
        quote_key,
        quote_id,
        source_system,
        deal_key,
        quote_sent_at,
        next_quote_sent_at,
        quote_number,
        quote_number = deal_quotes_count as is_last_quote,
        follow_up_activity_key,
        follow_up_at,
        follow_up_delay_seconds,
        cast(follow_up_delay_seconds as {{ type_double() }}) / 86400.0
            as follow_up_delay_days,
        case
            when follow_up_delay_seconds <= {{ window_seconds }} then true
            when seconds_since_quote >= {{ window_seconds }} then false
        end as is_followed_up_within_days,
        as_of
    from measured
)

select * from final
