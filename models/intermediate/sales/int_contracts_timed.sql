-- One row per contract of a deal with the quote-to-signature segments in seconds: the last
-- quote sent at or before the contract was sent (quote_to_contract_seconds), the signature
-- wait (contract sent to signed; null while unsigned) and the whole quote-to-signature time.
-- With the deal's region and outcome.
with contracts as (
    select * from {{ ref('int_contracts_unioned') }}
    where deal_key is not null and sent_at is not null
),

quotes as (
    select * from {{ ref('int_quotes_unioned') }}
    where quote_sent_at is not null
),

deals as (
    select * from {{ ref('int_deals_discounted') }}
),

last_quotes as (
    select
        contracts.contract_key,
        contracts.source_system,
        max(quotes.quote_sent_at) as last_quote_sent_at
    from contracts
    inner join quotes
        on
            contracts.deal_key = quotes.deal_key
            and contracts.source_system = quotes.source_system
            and contracts.sent_at >= quotes.quote_sent_at
    group by contracts.contract_key, contracts.source_system
),

final as (
    select
        contracts.contract_key,
        contracts.source_system,
        contracts.deal_key,
        deals.region,
        deals.status as deal_status,
        last_quotes.last_quote_sent_at,
        contracts.sent_at,
        contracts.signed_at,
        {{ dbt.datediff('last_quotes.last_quote_sent_at', 'contracts.sent_at', 'second') }}
            as quote_to_contract_seconds,
        {{ dbt.datediff('contracts.sent_at', 'contracts.signed_at', 'second') }}
            as signature_seconds,
        {{ dbt.datediff('last_quotes.last_quote_sent_at', 'contracts.signed_at', 'second') }}
            as quote_to_signature_seconds
    from contracts
    left join last_quotes
        on
            contracts.contract_key = last_quotes.contract_key
            and contracts.source_system = last_quotes.source_system
    left join deals
        on
            contracts.deal_key = deals.deal_key
            and contracts.source_system = deals.source_system
)

select * from final
