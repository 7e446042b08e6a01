-- All activity families in one relation, with catalog attributes and a stable event id.
-- (one model per family, all with the same columns)

with lead_events as (
    select
        case_id,
        activity,
        event_at,
        object_type,
        object_id,
        source_system,
        source_row_id,
        resource_user_key,
        is_automated,
        amount,
        currency
    from {{ ref('int_lead_events_derived') }}
),

deal_events as (
    select
        case_id,
        activity,
        event_at,
        object_type,
        object_id,
        source_system,
        source_row_id,
        resource_user_key,
        is_automated,
        amount,
        currency
    from {{ ref('int_deal_events_derived') }}
),

stage_events as (
    select
        case_id,
        activity,
        event_at,
        object_type,
        object_id,
        source_system,
        source_row_id,
        resource_user_key,
        is_automated,
        amount,
        currency
    from {{ ref('int_stage_events_derived') }}
),

quote_events as (
    select
        case_id,
        activity,
        event_at,
        object_type,
        object_id,
        source_system,
        source_row_id,
        resource_user_key,
        is_automated,
        amount,
        currency
    from {{ ref('int_quote_events_derived') }}
),

followup_events as (
    select
        case_id,
        activity,
        event_at,
        object_type,
        object_id,
        source_system,
        source_row_id,
        resource_user_key,
        is_automated,
        amount,
        currency
    from {{ ref('int_followup_events_derived') }}
),

invoice_events as (
    select
        case_id,
        activity,
        event_at,
        object_type,
        object_id,
        source_system,
        source_row_id,
        resource_user_key,
        is_automated,
        amount,
        currency
    from {{ ref('int_invoice_events_derived') }}
),

payment_events as (
    select
        case_id,
        activity,
        event_at,
        object_type,
        object_id,
        source_system,
        source_row_id,
        resource_user_key,
        is_automated,
        amount,
        currency
    from {{ ref('int_payment_events_derived') }}
),

events as (
    select * from lead_events
    union all
    select * from deal_events
    union all
    select * from stage_events
    union all
    select * from quote_events
    union all
    select * from followup_events
    union all
    select * from invoice_events
    union all
    select * from payment_events
),

catalog as (
    select * from {{ ref('activity_catalog') }}
),

final as (
    select
        {{ stable_id([
            'events.source_system', 'events.object_type', 'events.object_id',
            'events.activity', 'events.source_row_id',
        ]) }} as event_id,
        events.case_id,
        events.activity,
        catalog.activity_family,
        catalog.sort_order as activity_sort_order,
        events.event_at,
        events.object_type,
        events.object_id,
        events.source_system,
        events.source_row_id,
        events.resource_user_key,
        events.is_automated,
        events.amount,
        events.currency
    from events
    left join catalog
        on events.activity = catalog.activity
)

select * from final
