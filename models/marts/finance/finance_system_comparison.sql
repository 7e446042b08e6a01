-- Single platform vs disparate systems, side by side: per finance system, how many of its
-- invoices link to a CRM deal and how (link rate), how long a won deal waits for its first
-- invoice (won -> invoice) and an invoice for its cash (invoice -> paid). A finance system
-- whose invoices carry their deal as a native lookup of the CRM's platform (registry
-- native_links, e.g. Certinia on Salesforce) is a single platform; the others (e.g. Stripe
-- beside Pipedrive) are disparate systems, linked by metadata or the 60-day rule.
with invoices as (
    select * from {{ ref('invoices') }}
),

deals as (
    select * from {{ ref('int_deals_filtered') }}
),

credit_notes as (
    select * from {{ ref('int_credit_notes_unioned') }}
    where status = 'issued'
),

first_invoices as (
    select
        invoices.source_system,
        invoices.deal_key,
        min(invoices.created_at) as first_invoiced_at
    from invoices
    where invoices.deal_key is not null
    group by invoices.source_system, invoices.deal_key
),

won_to_invoice as (
    select
        first_invoices.source_system,
        {{ dbt.datediff('deals.won_at', 'first_invoices.first_invoiced_at', 'second') }}
            as seconds_to_invoice
    from first_invoices
    inner join deals
        on first_invoices.deal_key = deals.deal_key
    where
        deals.status = 'won'
        and deals.won_at <= first_invoices.first_invoiced_at
),

won_to_invoice_summary as (
    select
        source_system,
        count(*) as deals_invoiced_count,
        avg(seconds_to_invoice) / 86400.0 as avg_won_to_invoice_days,
        {{ percentile_days('seconds_to_invoice', 0.5) }}
            as median_won_to_invoice_days
    from won_to_invoice
    group by source_system
),

paid as (
    select
        source_system,
        {{ dbt.datediff('created_at', 'paid_at', 'second') }}
            as seconds_to_paid
    from invoices
    where paid_at is not null and voided_at is null
),

paid_summary as (
    select
        source_system,
        count(*) as paid_invoices_count,
        avg(seconds_to_paid) / 86400.0 as avg_invoice_to_paid_days,
        {{ percentile_days('seconds_to_paid', 0.5) }}
            as median_invoice_to_paid_days
    from paid
    group by source_system
),

credit_note_summary as (
    select
        source_system,
        count(*) as credit_notes_count
    from credit_notes
    group by source_system
),

link_summary as (
    select
        source_system,
        count(*) as invoices_count,
        sum(case when is_linked then 1 else 0 end) as linked_invoices_count,
        sum(case when link_method = 'native' then 1 else 0 end) as linked_natively,
        sum(case when link_method = 'metadata' then 1 else 0 end) as linked_by_metadata,
        sum(case when link_method = 'subscription' then 1 else 0 end)
            as linked_by_subscription,
        sum(case when link_method = 'rule' then 1 else 0 end) as linked_by_rule
    from invoices
    group by source_system
),

final as (
    select
        cast(link_summary.source_system as {{ dbt.type_string() }}) as source_system,
        cast(
            case
                when {{ is_native_link_system('link_summary.source_system') }}
                    then 'single platform'
                else 'disparate systems'
            end as {{ dbt.type_string() }}
        ) as platform_model,
        cast(link_summary.invoices_count as {{ dbt.type_bigint() }}) as invoices_count,
        cast(link_summary.linked_invoices_count as {{ dbt.type_bigint() }})
            as linked_invoices_count,
        cast(
            1.0 * link_summary.linked_invoices_count / link_summary.invoices_count
            as {{ type_double() }}
        ) as link_rate,
        cast(link_summary.linked_natively as {{ dbt.type_bigint() }}) as linked_natively,
        cast(link_summary.linked_by_metadata as {{ dbt.type_bigint() }}) as linked_by_metadata,
        cast(link_summary.linked_by_subscription as {{ dbt.type_bigint() }})
            as linked_by_subscription,
        cast(link_summary.linked_by_rule as {{ dbt.type_bigint() }}) as linked_by_rule,
        cast(coalesce(won_to_invoice_summary.deals_invoiced_count, 0) as {{ dbt.type_bigint() }})
            as deals_invoiced_count,
        cast(won_to_invoice_summary.avg_won_to_invoice_days as {{ type_double() }})
            as avg_won_to_invoice_days,
        cast(won_to_invoice_summary.median_won_to_invoice_days as {{ type_double() }})
            as median_won_to_invoice_days,
        cast(coalesce(paid_summary.paid_invoices_count, 0) as {{ dbt.type_bigint() }})
            as paid_invoices_count,
        cast(paid_summary.avg_invoice_to_paid_days as {{ type_double() }})
            as avg_invoice_to_paid_days,
        cast(paid_summary.median_invoice_to_paid_days as {{ type_double() }})
            as median_invoice_to_paid_days,
        cast(coalesce(credit_note_summary.credit_notes_count, 0) as {{ dbt.type_bigint() }})
            as credit_notes_count
    from link_summary
    left join won_to_invoice_summary
        on link_summary.source_system = won_to_invoice_summary.source_system
    left join paid_summary
        on link_summary.source_system = paid_summary.source_system
    left join credit_note_summary
        on link_summary.source_system = credit_note_summary.source_system
)

select * from final
