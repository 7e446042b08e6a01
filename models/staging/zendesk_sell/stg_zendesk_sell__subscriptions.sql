-- Zendesk Sell recurring deals as canonical subscriptions: one row per won deal whose
-- contract custom fields (var zendesk_sell_contract_fields: contract start, term in months,
-- MRR, billing frequency) name a contract start and a term. Sell has no subscription object
-- and no parent-deal link, so a renewal deal (any pipeline, e.g. Renewals) names the deal it
-- renews in the renews_deal custom field: each won renewal deal renewed one term, a lost one
-- ended the contract at the end of the term it was to renew (a non-renewal, cancel_reason
-- not_renewed, cancelled when the renewal deal was lost). Deals are their latest raw
-- deal_stage_snapshot, as in stg_zendesk_sell__deals; renewal deals come from the same raw
-- table, counted per deal they renew (no other source is joined).
{{ config(meta={'keeps_raw_rows': false}) }}  -- one row per recurring deal, by design
{% set fields = var('zendesk_sell_contract_fields') %}
{% set frequency_months = var('zendesk_sell_billing_frequency_months') %}
with source as (
    {{ select_source_columns('zendesk_sell', 'deal_stage_snapshots', [
        'snapshot_id:string', 'id:bigint', 'contact_id:bigint', 'stage_category:string',
        'currency:string', 'last_stage_change_at:timestamptz', 'created_at:timestamptz',
        'updated_at:timestamptz',
        'custom_fields__' ~ fields.contract_start ~ ':string:contract_start_text',
        'custom_fields__' ~ fields.term_months ~ ':float:term_months_value',
        'custom_fields__' ~ fields.mrr ~ ':float:mrr_value',
        'custom_fields__' ~ fields.billing_frequency ~ ':string:billing_frequency_text',
        'custom_fields__' ~ fields.renews_deal ~ ':string:renews_deal_text',
    ]) }}
),

ranked as (
    select
        *,
        coalesce(last_stage_change_at, created_at) as stage_entered_at,
        row_number() over (
            partition by id
            order by
                coalesce(last_stage_change_at, created_at) desc,
                updated_at desc,
                snapshot_id desc
        ) as snapshot_rank
    from source
),

current_deals as (
    select
        *,
        case lower(stage_category)
            when 'won' then 'won'
            when 'lost' then 'lost'
            when 'unqualified' then 'lost'
            else 'open'
        end as status,
        nullif(trim(renews_deal_text), '') as renews_deal_id,
        lower(trim(billing_frequency_text)) as billing_frequency
    from ranked
    where snapshot_rank = 1
),

renewal_deals as (
    select
        renews_deal_id,
        sum(case when status = 'won' then 1 else 0 end) as renewals_won,
        min(case when status = 'lost' then stage_entered_at end) as lost_at
    from current_deals
    where renews_deal_id is not null
    group by renews_deal_id
),

contracts as (
    select
        current_deals.*,
        {% set start_date = text_to_date(
            "substring(trim(current_deals.contract_start_text), 1, 10)"
        ) %}
        cast({{ start_date }} as {{ dbt.type_timestamp() }}) as contract_start_at,
        cast(current_deals.term_months_value as {{ dbt.type_int() }}) as term_months,
        case current_deals.billing_frequency
            {% for label, months in frequency_months.items() -%}
                when '{{ label }}' then {{ months }}
            {% endfor -%}
        end as interval_months,
        coalesce(renewal_deals.renewals_won, 0) as renewals_won,
        renewal_deals.lost_at
    from current_deals
    left join renewal_deals
        on cast(current_deals.id as {{ dbt.type_string() }}) = renewal_deals.renews_deal_id
    where
        current_deals.renews_deal_id is null
        and current_deals.status = 'won'
        and nullif(trim(current_deals.contract_start_text), '') is not null
        and current_deals.term_months_value > 0
),

renamed as (
    select
        'zendesk_sell' as source_system,
        {{ make_key('zendesk_sell', 'id', 'subscription') }} as subscription_key,
        cast(id as {{ dbt.type_string() }}) as subscription_id,
        {{ make_key('zendesk_sell', 'contact_id') }} as customer_key,
        {{ make_key('zendesk_sell', 'id') }} as crm_deal_key,
        case when lost_at is not null then 'canceled' else 'active' end as status,
        cast(null as {{ dbt.type_string() }}) as product_key,
        cast(null as {{ dbt.type_string() }}) as product_name,
        case interval_months
            when 1 then 'month'
            when 12 then 'year'
            else billing_frequency
        end as billing_interval,
        interval_months as billing_interval_months,
        term_months,
        cast(1 as {{ type_double() }}) as quantity,
        mrr_value * coalesce(interval_months, 1) as period_amount,
        mrr_value as mrr,
        upper(currency) as currency,
        {{ to_utc_timestamp('created_at') }} as created_at,
        contract_start_at as started_at,
        {{ to_utc_timestamp('lost_at') }} as cancel_requested_at,
        case
            when lost_at is not null
                then {{ dbt.dateadd('month', '(renewals_won + 1) * term_months',
                                    'contract_start_at') }}
        end as ended_at,
        case when lost_at is not null then 'not_renewed' end as cancel_reason,
        cast(null as {{ dbt.type_string() }}) as cancel_feedback,
        {{ dbt.dateadd('month', 'renewals_won * term_months', 'contract_start_at') }}
            as current_period_start_at,
        {{ dbt.dateadd('month', '(renewals_won + 1) * term_months', 'contract_start_at') }}
            as current_period_end_at
    from contracts
),

final as (
    {{ select_canonical('subscriptions') }}
)

select * from final
