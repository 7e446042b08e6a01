-- One row per case: every non-deleted deal, plus every lead that did not convert into one
-- (a lead converted to an account / contact only is a lead case with outcome 'converted').
with deals as (
    select * from {{ ref('int_deals_enriched') }}
),

leads as (
    select * from {{ ref('int_leads_classified') }}
),

users as (
    select * from {{ ref('int_users_enriched') }}
),

invoices as (
    select * from {{ ref('int_invoices_linked') }}
    where deal_key is not null and status <> 'void'
),

events as (
    select * from {{ ref('int_events_unioned') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_ranged') }}
),

source_loads as (
    select * from {{ ref('int_source_loads_summarized') }}
),

deal_segments as (
    select * from {{ ref('int_deal_segments_derived') }}
),

lead_campaigns as (
    select * from {{ ref('int_lead_campaigns_resolved') }}
),

invoice_totals as (
    select
        deal_key,
        min(created_at) as first_invoice_at,
        count(*) as invoices_count,
        sum(total) as amount_invoiced,
        sum(amount_paid) as amount_paid,
        case
            when min(case when status = 'paid' then 1 else 0 end) = 1 then max(paid_at)
        end as paid_at
    from invoices
    group by deal_key
),

event_totals as (
    select
        case_id,
        count(*) as events_count,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from events
    group by case_id
),

deal_cases as (
    select
        deals.deal_key as case_id,
        'deal' as case_type,
        deals.source_system,
        deals.deal_key,
        deals.lead_key,
        deals.title,
        deals.owner_user_key,
        deals.owner_name,
        deals.team_name,
        deals.region,
        deals.pipeline_name,
        deals.canonical_stage as current_stage,
        deals.value as deal_value,
        deals.currency,
        deals.discount_pct,
        case
            when deals.status = 'won' then 'won'
            when deals.status = 'lost' then 'lost'
            else 'open'
        end as outcome,
        deals.lost_reason,
        leads.lead_source,
        deal_segments.campaign_name as campaign,
        deal_segments.product_category,
        deal_segments.deal_type,
        leads.created_at as lead_created_at,
        deals.created_at as deal_created_at,
        deals.won_at,
        deals.lost_at,
        deals.closed_at
    from deals
    left join leads
        on
            deals.lead_key = leads.lead_key
            and deals.source_system = leads.source_system
    left join deal_segments
        on
            deals.deal_key = deal_segments.deal_key
            and deals.source_system = deal_segments.source_system
),

lead_cases as (
    select
        leads.case_id,
        'lead' as case_type,
        leads.source_system,
        cast(null as {{ dbt.type_string() }}) as deal_key,
        leads.lead_key,
        leads.title,
        leads.owner_user_key,
        users.user_name as owner_name,
        users.team_name,
        cast(null as {{ dbt.type_string() }}) as region,
        cast(null as {{ dbt.type_string() }}) as pipeline_name,
        cast(null as {{ dbt.type_string() }}) as current_stage,
        leads.value as deal_value,
        leads.currency,
        cast(null as {{ type_double() }}) as discount_pct,
        case leads.lead_status
            when 'disqualified' then 'lost'
            when 'converted_without_deal' then 'converted'
            else 'open'
        end as outcome,
        case
            when leads.lead_status = 'disqualified' then 'Lead disqualified'
        end as lost_reason,
        leads.lead_source,
        lead_campaigns.campaign_name as campaign,
        cast(null as {{ dbt.type_string() }}) as product_category,
        cast(null as {{ dbt.type_string() }}) as deal_type,
        leads.created_at as lead_created_at,
        cast(null as {{ dbt.type_timestamp() }}) as deal_created_at,
        cast(null as {{ dbt.type_timestamp() }}) as won_at,
        leads.disqualified_at as lost_at,
        coalesce(leads.disqualified_at, leads.converted_at) as closed_at
    from leads
    left join users
        on
            leads.owner_user_key = users.user_key
            and leads.source_system = users.source_system
    left join lead_campaigns
        on
            leads.lead_key = lead_campaigns.lead_key
            and leads.source_system = lead_campaigns.source_system
    where leads.converted_deal_key is null
),

all_cases as (
    select * from deal_cases
    union all
    select * from lead_cases
),

final as (
    select
        cast(all_cases.case_id as {{ dbt.type_string() }}) as case_id,
        cast(all_cases.case_type as {{ dbt.type_string() }}) as case_type,
        cast(all_cases.source_system as {{ dbt.type_string() }}) as source_system,
        cast(all_cases.deal_key as {{ dbt.type_string() }}) as deal_key,
        cast(all_cases.lead_key as {{ dbt.type_string() }}) as lead_key,
        cast(all_cases.title as {{ dbt.type_string() }}) as title,
        cast(all_cases.owner_user_key as {{ dbt.type_string() }}) as owner_key,
        cast(all_cases.owner_name as {{ dbt.type_string() }}) as owner_name,
        cast(all_cases.team_name as {{ dbt.type_string() }}) as team,
        cast(all_cases.region as {{ dbt.type_string() }}) as region,
        cast(all_cases.pipeline_name as {{ dbt.type_string() }}) as pipeline,
        cast(all_cases.current_stage as {{ dbt.type_string() }}) as current_stage,
        cast(all_cases.deal_value as {{ type_double() }}) as deal_value,
        cast(all_cases.currency as {{ dbt.type_string() }}) as currency,
        cast(
            all_cases.deal_value * fx_rates.rate_to_reporting as {{ type_double() }}
        ) as deal_value_reporting,
        cast(all_cases.discount_pct as {{ type_double() }}) as discount_pct,
        cast(all_cases.outcome as {{ dbt.type_string() }}) as outcome,
        cast(all_cases.lost_reason as {{ dbt.type_string() }}) as lost_reason,
        cast(all_cases.lead_source as {{ dbt.type_string() }}) as lead_source,
        cast(all_cases.campaign as {{ dbt.type_string() }}) as campaign,
        cast(all_cases.product_category as {{ dbt.type_string() }}) as product_category,
        cast(all_cases.deal_type as {{ dbt.type_string() }}) as deal_type,
        cast(all_cases.lead_created_at as {{ dbt.type_timestamp() }}) as lead_created_at,
        cast(all_cases.deal_created_at as {{ dbt.type_timestamp() }}) as deal_created_at,
        cast(all_cases.won_at as {{ dbt.type_timestamp() }}) as won_at,
        cast(all_cases.lost_at as {{ dbt.type_timestamp() }}) as lost_at,
        cast(all_cases.closed_at as {{ dbt.type_timestamp() }}) as closed_at,
        cast(invoice_totals.first_invoice_at as {{ dbt.type_timestamp() }})
            as first_invoice_at,
        cast(invoice_totals.paid_at as {{ dbt.type_timestamp() }}) as paid_at,
        cast(coalesce(invoice_totals.invoices_count, 0) as {{ dbt.type_bigint() }})
            as invoices_count,
        cast(coalesce(invoice_totals.amount_invoiced, 0) as {{ type_double() }})
            as amount_invoiced,
        cast(coalesce(invoice_totals.amount_paid, 0) as {{ type_double() }})
            as amount_paid,
        cast(coalesce(event_totals.events_count, 0) as {{ dbt.type_bigint() }})
            as events_count,
        cast(event_totals.first_event_at as {{ dbt.type_timestamp() }}) as first_event_at,
        cast(event_totals.last_event_at as {{ dbt.type_timestamp() }}) as last_event_at,
        cast(source_loads.loaded_at as {{ dbt.type_timestamp() }}) as loaded_at,
        cast(source_loads.load_id as {{ dbt.type_string() }}) as load_id
    from all_cases
    left join invoice_totals
        on all_cases.deal_key = invoice_totals.deal_key
    left join event_totals
        on all_cases.case_id = event_totals.case_id
    left join source_loads
        on all_cases.source_system = source_loads.source_system
    left join fx_rates
        on
            all_cases.currency = fx_rates.currency_code
            and cast(coalesce(all_cases.deal_created_at, all_cases.lead_created_at) as date)
            >= fx_rates.valid_from
            and cast(coalesce(all_cases.deal_created_at, all_cases.lead_created_at) as date)
            < fx_rates.valid_to
)

select * from final
