-- Won deals whose orders or invoices do not add up to the deal's value, at the as-of
-- instant. One row per (deal, compared_to, compared_source_system) that mismatches:
-- compared_to 'order' (the deal's orders, cancelled ones left out) or 'invoice' (its
-- non-void invoices finalized by as_of that are not subscription billing: a subscription's
-- recurring invoices bill a service period, not the deal's amount), per system the
-- documents come from. A deal with no such document is not compared (billing_lags counts
-- it as not invoiced). Kinds: ordered_above_deal / ordered_below_deal /
-- invoiced_above_deal / invoiced_below_deal when |documents - deal value| > var
-- amount_mismatch_tolerance x deal value and > 1 minor unit, in the deal's currency;
-- currency_differs when a document is in another currency (not converted: the amounts are
-- not compared). A deal invoiced in instalments and not yet in full is invoiced_below_deal
-- until its last invoice.
{%- set tolerance = var('amount_mismatch_tolerance') %}

with deals as (
    select * from {{ ref('int_deals_enriched') }}
    where status = 'won'
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

orders as (
    select * from {{ ref('int_orders_unioned') }}
    where
        deal_key is not null
        and coalesce(status, '') not in ('cancelled', 'canceled')
),

invoices as (
    select * from {{ ref('int_invoices_settled') }}
    where
        not is_void
        and finalized_at <= as_of
        and deal_key is not null
        and billing_reason not like 'subscription%'
),

documents as (
    select
        'order' as compared_to,
        source_system,
        deal_key,
        currency,
        {{ to_minor_units('amount') }} as amount_minor
    from orders
    union all
    select
        'invoice' as compared_to,
        source_system,
        deal_key,
        currency,
        total_minor as amount_minor
    from invoices
),

won as (
    select
        deals.deal_key,
        deals.source_system,
        deals.region,
        deals.owner_user_key,
        deals.currency,
        {{ to_minor_units('deals.value') }} as deal_minor
    from deals
    inner join as_of
        on deals.source_system = as_of.source_system
    where deals.won_at <= as_of.as_of
),

compared as (
    select
        won.deal_key,
        won.source_system,
        won.region,
        won.owner_user_key,
        won.currency,
        won.deal_minor,
        documents.compared_to,
        documents.source_system as compared_source_system,
        count(*) as documents_count,
        sum(documents.amount_minor) as compared_minor,
        max(case when documents.currency = won.currency then 0 else 1 end) as other_currency
    from won
    inner join documents
        on won.deal_key = documents.deal_key
    group by
        won.deal_key, won.source_system, won.region, won.owner_user_key, won.currency,
        won.deal_minor, documents.compared_to, documents.source_system
),

classified as (
    select
        *,
        case
            when other_currency = 1 then 'currency_differs'
            when
                abs(compared_minor - deal_minor) <= 1
                or abs(compared_minor - deal_minor) <= {{ tolerance }} * abs(deal_minor)
                then null
            when compared_to = 'order' and compared_minor > deal_minor
                then 'ordered_above_deal'
            when compared_to = 'order' then 'ordered_below_deal'
            when compared_minor > deal_minor then 'invoiced_above_deal'
            else 'invoiced_below_deal'
        end as mismatch_kind
    from compared
),

final as (
    select
        cast(
            {{ dbt.concat([
                'deal_key', "':'", 'compared_to', "':'", 'compared_source_system',
            ]) }} as {{ dbt.type_string() }}
        ) as mismatch_key,
        cast(deal_key as {{ dbt.type_string() }}) as deal_key,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(compared_to as {{ dbt.type_string() }}) as compared_to,
        cast(compared_source_system as {{ dbt.type_string() }}) as compared_source_system,
        cast(mismatch_kind as {{ dbt.type_string() }}) as mismatch_kind,
        cast(documents_count as {{ dbt.type_bigint() }}) as documents_count,
        cast({{ from_minor_units('deal_minor') }} as {{ type_double() }}) as deal_amount,
        cast(
            case when other_currency = 0 then {{ from_minor_units('compared_minor') }} end
            as {{ type_double() }}
        ) as compared_amount,
        cast(
            case
                when other_currency = 0 then {{ from_minor_units('compared_minor - deal_minor') }}
            end as {{ type_double() }}
        ) as difference,
        cast(
            case
                when other_currency = 0
                    then {{ safe_ratio('compared_minor - deal_minor', 'deal_minor') }}
            end as {{ type_double() }}
        ) as difference_share,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(coalesce(region, '(none)') as {{ dbt.type_string() }}) as region,
        cast(owner_user_key as {{ dbt.type_string() }}) as owner_user_key
    from classified
    where mismatch_kind is not null
)

select * from final
