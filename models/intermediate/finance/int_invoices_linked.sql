-- Invoice -> deal link (one row per invoice, all invoices kept).
-- 1. metadata: the invoice carries a CRM deal key (e.g. metadata.pipedrive_deal_id) and that
--    deal exists; `native` when the finance system lives on the CRM's platform and the key is
--    a lookup of the record (registry native_links, e.g. Certinia's c2g__Opportunity__c).
-- 2. subscription: otherwise the invoice bills a subscription whose metadata carries a CRM
--    deal key of an existing deal (every invoice of a recurring deal, however late).
-- 3. rule (invoices without a subscription): otherwise the won deals whose account is the
--    invoice customer's CRM account (customer metadata, e.g. pipedrive_org_id), in the invoice
--    currency, won on a date within var invoice_link_window_days before (or on) the invoice
--    creation date. One candidate links; several: the one whose value is closest to the
--    invoice total; a tie stays unlinked.
-- 4. null: unlinked (kept here, not in the event log).
with invoices as (
    select * from {{ ref('int_invoices_unioned') }}
),

customers as (
    select * from {{ ref('int_customers_unioned') }}
),

deals as (
    select * from {{ ref('int_deals_filtered') }}
),

billing as (
    select * from {{ ref('int_invoice_billing_unioned') }}
),

subscriptions as (
    select * from {{ ref('int_subscriptions_unioned') }}
),

metadata_links as (
    select
        invoices.invoice_key,
        deals.deal_key
    from invoices
    inner join deals
        on invoices.crm_deal_key = deals.deal_key
),

subscription_links as (
    select
        invoices.invoice_key,
        deals.deal_key
    from invoices
    inner join billing
        on invoices.invoice_key = billing.invoice_key
    inner join subscriptions
        on billing.subscription_key = subscriptions.subscription_key
    inner join deals
        on subscriptions.crm_deal_key = deals.deal_key
    left join metadata_links
        on invoices.invoice_key = metadata_links.invoice_key
    where metadata_links.invoice_key is null
),

candidates as (
    select
        invoices.invoice_key,
        deals.deal_key,
        coalesce(abs(deals.value - invoices.total), 1e18) as value_distance
    from invoices
    inner join customers
        on
            invoices.customer_key = customers.customer_key
            and invoices.source_system = customers.source_system
    inner join deals
        on
            customers.crm_account_key = deals.account_key
            and invoices.currency = deals.currency
    left join metadata_links
        on invoices.invoice_key = metadata_links.invoice_key
    left join billing
        on invoices.invoice_key = billing.invoice_key
    where
        metadata_links.invoice_key is null
        and billing.subscription_key is null
        and deals.status = 'won'
        and cast(deals.won_at as date) <= cast(invoices.created_at as date)
        and cast(deals.won_at as date) >= {{ dbt.dateadd(
            'day', -1 * var('invoice_link_window_days'), 'cast(invoices.created_at as date)'
        ) }}
),

ranked as (
    select
        invoice_key,
        deal_key,
        value_distance,
        count(*) over (partition by invoice_key) as candidates_count,
        min(value_distance) over (partition by invoice_key) as best_distance
    from candidates
),

rule_links as (
    select
        invoice_key,
        min(deal_key) as deal_key,
        max(candidates_count) as candidates_count
    from ranked
    where value_distance = best_distance
    group by invoice_key
    having count(*) = 1
),

candidate_counts as (
    select
        invoice_key,
        count(*) as candidates_count
    from candidates
    group by invoice_key
),

final as (
    select
        invoices.*,
        billing.subscription_key,
        coalesce(
            metadata_links.deal_key, subscription_links.deal_key, rule_links.deal_key
        ) as deal_key,
        case
            when
                metadata_links.deal_key is not null
                and {{ is_native_link_system('invoices.source_system') }}
                then 'native'
            when metadata_links.deal_key is not null then 'metadata'
            when subscription_links.deal_key is not null then 'subscription'
            when rule_links.deal_key is not null then 'rule'
        end as link_method,
        coalesce(candidate_counts.candidates_count, 0) as rule_candidates_count,
        coalesce(billing.billing_reason, 'manual') as billing_reason
    from invoices
    left join metadata_links
        on invoices.invoice_key = metadata_links.invoice_key
    left join subscription_links
        on invoices.invoice_key = subscription_links.invoice_key
    left join billing
        on invoices.invoice_key = billing.invoice_key
    left join rule_links
        on invoices.invoice_key = rule_links.invoice_key
    left join candidate_counts
        on invoices.invoice_key = candidate_counts.invoice_key
)

select * from final
