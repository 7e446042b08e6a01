-- All activity families in one relation, with catalog attributes and a stable event id.
-- (one model per family, all with the columns of macro event_columns)

with events as (
    {{ union_event_families(
        [
            'lead', 'deal', 'stage', 'approval', 'quote', 'followup', 'contract', 'order',
            'invoice', 'payment', 'subscription', 'collection', 'subscription_change',
            'dunning', 'revenue', 'contact', 'owner'
        ]
    ) }}
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
