-- Quote family: Quote Sent for every sent quote of a case deal.
with quotes as (
    select * from {{ ref('int_quotes_unioned') }}
),

deals as (
    select * from {{ ref('int_deals_filtered') }}
),

final as (
    select
        quotes.deal_key as case_id,
        'Quote Sent' as activity,
        quotes.quote_sent_at as event_at,
        'quote' as object_type,
        quotes.quote_key as object_id,
        quotes.source_system,
        quotes.quote_id as source_row_id,
        quotes.owner_user_key as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        quotes.amount,
        quotes.currency
    from quotes
    inner join deals
        on
            quotes.deal_key = deals.deal_key
            and quotes.source_system = deals.source_system
    where quotes.quote_sent_at is not null
)

select * from final
