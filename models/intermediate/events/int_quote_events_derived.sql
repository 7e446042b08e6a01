-- Quote family for the quotes of a case deal: Quote Sent, Quote Accepted, Quote Rejected
-- (the last two only where the CRM records the customer's answer).
with quotes as (
    select * from {{ ref('int_quotes_unioned') }}
),

deals as (
    select * from {{ ref('int_deals_filtered') }}
),

case_quotes as (
    select quotes.*
    from quotes
    inner join deals
        on
            quotes.deal_key = deals.deal_key
            and quotes.source_system = deals.source_system
),

final as (
    {{ timestamp_events('case_quotes', 'quote', 'quote_key', 'quote_id', [
        ['Quote Sent', 'quote_sent_at', 'amount'],
        ['Quote Accepted', 'quote_accepted_at', 'amount'],
        ['Quote Rejected', 'quote_rejected_at', 'amount'],
    ], resource_user_key='owner_user_key') }}
)

select * from final
