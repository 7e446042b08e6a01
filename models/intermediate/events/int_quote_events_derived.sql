-- Quote family for the quotes of a case deal: Quote Created (at the quote's created_at, only
-- for systems whose manifest `observes` Quote Created, i.e. whose quote records carry a
-- creation time of the quote itself: a Pipedrive quote activity's add_time is when the
-- activity was logged, not when a quote was drafted), Quote Sent, Quote Accepted, Quote
-- Rejected (the last two only where the CRM records the customer's answer).
with quotes as (
    select * from {{ ref('int_quotes_unioned') }}
),

deals as (
    select * from {{ ref('int_deals_filtered') }}
),

creation_observed as (
    select distinct source_system
    from {{ ref('int_observable_activities_resolved') }}
    where activity = 'Quote Created' and observed_by = source_system
),

case_quotes as (
    select
        quotes.*,
        case
            when creation_observed.source_system is not null then quotes.created_at
        end as quote_created_at
    from quotes
    inner join deals
        on
            quotes.deal_key = deals.deal_key
            and quotes.source_system = deals.source_system
    left join creation_observed
        on quotes.source_system = creation_observed.source_system
),

final as (
    {{ timestamp_events('case_quotes', 'quote', 'quote_key', 'quote_id', [
        ['Quote Created', 'quote_created_at', 'amount'],
        ['Quote Sent', 'quote_sent_at', 'amount'],
        ['Quote Accepted', 'quote_accepted_at', 'amount'],
        ['Quote Rejected', 'quote_rejected_at', 'amount'],
    ], resource_user_key='owner_user_key') }}
)

select * from final
