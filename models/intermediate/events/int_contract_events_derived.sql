-- Contract family for the contracts of a case deal: Contract Sent (resource = who sent it)
-- and Contract Signed (resource = who recorded the signature). The events belong to the deal.
with contracts as (
    select * from {{ ref('int_contracts_unioned') }}
),

deals as (
    select * from {{ ref('int_deals_filtered') }}
),

case_contracts as (
    select contracts.*
    from contracts
    inner join deals
        on
            contracts.deal_key = deals.deal_key
            and contracts.source_system = deals.source_system
),

final as (
    {{ timestamp_events('case_contracts', 'deal', 'deal_key', 'contract_id', [
        ['Contract Sent', 'sent_at', none],
    ], resource_user_key='sent_by_user_key', currency='cast(null as ' ~ dbt.type_string() ~ ')') }}
    union all
    {{ timestamp_events('case_contracts', 'deal', 'deal_key', 'contract_id', [
        ['Contract Signed', 'signed_at', none],
    ], resource_user_key='signed_by_user_key', currency='cast(null as ' ~ dbt.type_string() ~ ')') }}
)

select * from final
