-- Cycle times: one row per case and segment that has started by the as-of instant.
-- Milestones: the first instant of each activity in the event log up to as_of (events after
-- it are ignored); lead_to_cash ends when every linked non-void invoice is paid (cases.paid_at,
-- when at or before as_of). A segment runs from its start milestone to its end milestone.
-- segment_status:
--   completed  the end milestone happened: duration_days = elapsed_days = end - start
--   open       not ended at as_of: censored at as_of (elapsed_days to as_of, duration null)
--   abandoned  the case ended without the end milestone (e.g. deal lost before a quote):
--              censored at that exit instant (elapsed_days to it, duration null)
-- Not applicable: no row. That is, the start milestone did not happen (no lead, not won, ...)
-- or the case's source system never records the end milestone (no case of the system has it:
-- Pipedrive has no Quote Accepted or orders, so those segments have no Pipedrive rows).
{%- set milestones = {
    'lead_created_at': 'Lead Created',
    'lead_disqualified_at': 'Lead Disqualified',
    'deal_created_at': 'Deal Created',
    'first_quote_sent_at': 'Quote Sent',
    'first_quote_accepted_at': 'Quote Accepted',
    'won_at': 'Deal Won',
    'lost_at': 'Deal Lost',
    'first_order_created_at': 'Sales Order Created',
    'first_order_fulfilled_at': 'Order Fulfilled',
    'first_invoice_created_at': 'Invoice Created',
    'first_invoice_sent_at': 'Invoice Sent',
    'first_invoice_paid_at': 'Invoice Paid',
} %}
{%- set segments = [
    {'name': 'lead_to_deal', 'start': 'lead_created_at', 'end': 'deal_created_at',
     'exit': 'lead_disqualified_at', 'start_activity': 'Lead Created',
     'end_activity': 'Deal Created'},
    {'name': 'deal_to_first_quote', 'start': 'deal_created_at', 'end': 'first_quote_sent_at',
     'exit': 'closed_at', 'start_activity': 'Deal Created', 'end_activity': 'Quote Sent'},
    {'name': 'quote_sent_to_accepted', 'start': 'first_quote_sent_at',
     'end': 'first_quote_accepted_at', 'exit': 'closed_at', 'start_activity': 'Quote Sent',
     'end_activity': 'Quote Accepted'},
    {'name': 'accepted_to_won', 'start': 'first_quote_accepted_at', 'end': 'won_at',
     'exit': 'lost_at', 'start_activity': 'Quote Accepted', 'end_activity': 'Deal Won'},
    {'name': 'won_to_order', 'start': 'won_at', 'end': 'first_order_created_at',
     'exit': none, 'start_activity': 'Deal Won', 'end_activity': 'Sales Order Created'},
    {'name': 'order_to_fulfilled', 'start': 'first_order_created_at',
     'end': 'first_order_fulfilled_at', 'exit': none,
     'start_activity': 'Sales Order Created', 'end_activity': 'Order Fulfilled'},
    {'name': 'won_to_invoice', 'start': 'coalesce(first_order_fulfilled_at, won_at)',
     'end': 'first_invoice_created_at', 'exit': none,
     'start_activity': 'Order Fulfilled, else Deal Won', 'end_activity': 'Invoice Created'},
    {'name': 'invoice_to_sent', 'start': 'first_invoice_created_at',
     'end': 'first_invoice_sent_at', 'exit': none, 'start_activity': 'Invoice Created',
     'end_activity': 'Invoice Sent'},
    {'name': 'invoice_to_paid', 'start': 'first_invoice_created_at',
     'end': 'first_invoice_paid_at', 'exit': none, 'start_activity': 'Invoice Created',
     'end_activity': 'Invoice Paid'},
    {'name': 'lead_to_cash', 'start': 'lead_created_at', 'end': 'fully_paid_at',
     'exit': 'coalesce(lost_at, lead_disqualified_at)', 'start_activity': 'Lead Created',
     'end_activity': 'Invoice Paid (all invoices of the case)'},
    {'name': 'sales_cycle', 'start': 'deal_created_at', 'end': 'closed_at', 'exit': none,
     'start_activity': 'Deal Created', 'end_activity': 'Deal Won or Deal Lost'},
] %}

with events as (
    select * from {{ ref('event_log') }}
),

cases as (
    select * from {{ ref('cases') }}
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

visible_events as (
    select
        events.case_id,
        events.activity,
        events.event_at
    from events
    -- each event up to the as-of instant of the system that recorded it
    inner join as_of
        on events.source_system = as_of.source_system
    where events.event_at <= as_of.as_of
),

pivoted as (
    select
        case_id,
        {%- for column, activity in milestones.items() %}
            min(case when activity = '{{ activity }}' then event_at end) as {{ column }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from visible_events
    group by case_id
),

milestones as (
    select
        pivoted.*,
        cases.case_type,
        cases.source_system,
        cases.owner_key,
        cases.owner_name,
        cases.team,
        cases.region,
        cases.pipeline,
        as_of.as_of,
        coalesce(pivoted.won_at, pivoted.lost_at) as closed_at,
        case
            when pivoted.won_at is not null then 'won'
            when pivoted.lost_at is not null or pivoted.lead_disqualified_at is not null
                then 'lost'
            else 'open'
        end as outcome,
        case when cases.paid_at <= as_of.as_of then cases.paid_at end as fully_paid_at
    from pivoted
    inner join cases
        on pivoted.case_id = cases.case_id
    inner join as_of
        on cases.source_system = as_of.source_system
),

system_coverage as (
    select
        source_system,
        {%- for segment in segments %}
            count({{ segment.end }}) > 0 as records_{{ segment.name }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from milestones
    group by source_system
),

segments as (
    {%- for segment in segments %}
        select
            milestones.case_id,
            milestones.case_type,
            milestones.source_system,
            milestones.owner_key,
            milestones.owner_name,
            milestones.team,
            milestones.region,
            milestones.pipeline,
            milestones.outcome,
            milestones.as_of,
            '{{ segment.name }}' as segment,
            {{ loop.index }} as segment_order,
            '{{ segment.start_activity }}' as start_activity,
            '{{ segment.end_activity }}' as end_activity,
            {{ segment.start }} as started_at,
            milestones.{{ segment.end }} as ended_at,
            {%- if segment.exit %}
                {{ segment.exit }} as exited_at
            {%- else %}
                cast(null as {{ dbt.type_timestamp() }}) as exited_at
            {%- endif %}
        from milestones
        inner join system_coverage
            on milestones.source_system = system_coverage.source_system
        where
            {{ segment.start }} is not null
            and system_coverage.records_{{ segment.name }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

classified as (
    select
        *,
        case
            when ended_at is not null then 'completed'
            when exited_at is not null then 'abandoned'
            else 'open'
        end as segment_status,
        case
            when ended_at is null then coalesce(exited_at, as_of)
        end as censored_at
    from segments
),

measured as (
    select
        *,
        {{ days_between('started_at', 'coalesce(ended_at, censored_at)') }} as elapsed_days
    from classified
),

final as (
    select
        cast(case_id as {{ dbt.type_string() }}) as case_id,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(segment_order as {{ dbt.type_int() }}) as segment_order,
        cast(start_activity as {{ dbt.type_string() }}) as start_activity,
        cast(end_activity as {{ dbt.type_string() }}) as end_activity,
        cast(case_type as {{ dbt.type_string() }}) as case_type,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(owner_key as {{ dbt.type_string() }}) as owner_key,
        cast(owner_name as {{ dbt.type_string() }}) as owner_name,
        cast(team as {{ dbt.type_string() }}) as team,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(pipeline as {{ dbt.type_string() }}) as pipeline,
        cast(outcome as {{ dbt.type_string() }}) as case_outcome,
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast({{ dbt.date_trunc('month', 'started_at') }} as date) as start_month,
        cast(ended_at as {{ dbt.type_timestamp() }}) as ended_at,
        cast(censored_at as {{ dbt.type_timestamp() }}) as censored_at,
        cast(segment_status as {{ dbt.type_string() }}) as segment_status,
        cast(segment_status = 'completed' as {{ dbt.type_boolean() }}) as is_completed,
        cast(segment_status <> 'completed' as {{ dbt.type_boolean() }}) as is_censored,
        cast(
            case when segment_status = 'completed' then elapsed_days end
            as {{ type_double() }}
        ) as duration_days,
        cast(elapsed_days as {{ type_double() }}) as elapsed_days,
        cast(as_of as {{ dbt.type_timestamp() }}) as as_of
    from measured
)

select * from final
