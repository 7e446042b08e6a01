-- One row per Quote Sent: the delay to the first customer-facing follow-up (var
-- customer_facing_activity_types; the event log's Follow-up Activity of the quote) and
-- whether it came within var follow_up_within_days (null while the window is still open).
with quotes as (
    select * from {{ ref('int_quotes_followed_up') }}
),

deals as (
    select * from {{ ref('int_deals_discounted') }}
),

final as (
    select
        cast(quotes.quote_key as {{ dbt.type_string() }}) as quote_key,
        cast(quotes.quote_id as {{ dbt.type_string() }}) as quote_id,
        cast(quotes.source_system as {{ dbt.type_string() }}) as source_system,
        cast(quotes.deal_key as {{ dbt.type_string() }}) as deal_key,
        cast(deals.owner_user_key as {{ dbt.type_string() }}) as owner_key,
        cast(deals.owner_name as {{ dbt.type_string() }}) as owner_name,
        cast(deals.region as {{ dbt.type_string() }}) as region,
        cast(deals.status as {{ dbt.type_string() }}) as deal_outcome,
        cast(quotes.quote_sent_at as {{ dbt.type_timestamp() }}) as quote_sent_at,
        cast(quotes.quote_number as {{ dbt.type_int() }}) as quote_number,
        cast(quotes.is_last_quote as {{ dbt.type_boolean() }}) as is_last_quote,
        cast(quotes.next_quote_sent_at as {{ dbt.type_timestamp() }}) as next_quote_sent_at,
        cast(quotes.follow_up_activity_key as {{ dbt.type_string() }})
            as follow_up_activity_key,
        cast(quotes.follow_up_at as {{ dbt.type_timestamp() }}) as follow_up_at,
        cast(quotes.follow_up_delay_days as {{ type_double() }}) as follow_up_delay_days,
        cast({{ var('follow_up_within_days') }} as {{ type_double() }})
            as follow_up_within_days,
        cast(quotes.is_followed_up_within_days as {{ dbt.type_boolean() }})
            as is_followed_up_within_days,
        cast(quotes.as_of as {{ dbt.type_timestamp() }}) as as_of
    from quotes
    inner join deals
        on
            quotes.deal_key = deals.deal_key
            and quotes.source_system = deals.source_system
)

select * from final
