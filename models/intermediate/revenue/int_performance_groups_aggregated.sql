-- The revenue KPIs side by side per group, for two dimensions: rep (the deal's current owner)
-- and region (the deal's region; invoices: int_invoices_settled.region; 'Unassigned' when
-- unknown). Grain: one row per (dimension, group_key). Ratios carry their denominators;
-- ranking (with the minimum-n guard) happens in the marts rep_performance / region_performance.
{%- set dimensions = [
    ('rep', 'owner_user_key'),
    ('region', "coalesce(region, 'Unassigned')"),
] %}
{#- a deal with lines whose amounts have no FX rate: its group's reporting sums are null -#}
{%- set missing_deal_rate = 'list_minor is not null and rate_to_reporting is null' %}

with deals as (
    select * from {{ ref('int_deals_discounted') }}
),

invoices as (
    select * from {{ ref('int_invoices_settled') }}
    where not is_void
),

quotes as (
    select * from {{ ref('int_quotes_followed_up') }}
),

-- won -> paid measures the sale's billing: a subscription's renewal invoices
-- (subscription_cycle) bill later service, not the deal
deal_payments as (
    select
        deal_key,
        count(*) as invoices_count,
        count(paid_at) as paid_invoices_count,
        max(paid_at) as last_paid_at
    from invoices
    where deal_key is not null and billing_reason is distinct from 'subscription_cycle'
    group by deal_key
),

deal_facts as (
    select
        deals.*,
        case
            when
                deals.status = 'won'
                and deal_payments.invoices_count = deal_payments.paid_invoices_count
                then {{ dbt.datediff('deals.won_at', 'deal_payments.last_paid_at', 'second') }}
        end as won_to_paid_seconds
    from deals
    left join deal_payments
        on deals.deal_key = deal_payments.deal_key
),

quote_facts as (
    select
        quotes.*,
        deals.owner_user_key,
        deals.region
    from quotes
    inner join deals
        on
            quotes.deal_key = deals.deal_key
            and quotes.source_system = deals.source_system
),

deal_kpis as (
    {%- for dimension, expr in dimensions %}
        select
            '{{ dimension }}' as dimension,
            {{ expr }} as group_key,
            count(*) as deals_count,
            sum(case when status = 'open' then 1 else 0 end) as open_deals,
            sum(case when status = 'won' then 1 else 0 end) as won_deals,
            sum(case when status = 'lost' then 1 else 0 end) as lost_deals,
            {{ percentile_days('won_cycle_seconds', 0.5) }} as median_won_cycle_days,
            {{ percentile_days('won_cycle_seconds', 0.9) }} as p90_won_cycle_days,
            count(discount_pct) as deals_with_lines,
            {{ unless_fx_missing('sum(list_reporting_minor)', missing_deal_rate) }}
                as list_reporting_minor,
            {{ unless_fx_missing('sum(discount_reporting_minor)', missing_deal_rate) }}
                as discount_reporting_minor,
            {{ unless_fx_missing(
                "sum(case when status = 'won' then discount_reporting_minor else 0 end)",
                "status = 'won' and " ~ missing_deal_rate
            ) }} as leakage_reporting_minor,
            sum(case when is_above_policy then 1 else 0 end) as above_policy_deals,
            count(won_to_paid_seconds) as paid_won_deals,
            {{ percentile_days('won_to_paid_seconds', 0.5) }} as median_won_to_paid_days
        from deal_facts
        where {{ expr }} is not null
        group by {{ expr }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

quote_kpis as (
    {%- for dimension, expr in dimensions %}
        select
            '{{ dimension }}' as dimension,
            {{ expr }} as group_key,
            count(*) as quotes_sent,
            count(is_followed_up_within_days) as quotes_follow_up_known,
            sum(
                case when is_followed_up_within_days then 1 else 0 end
            ) as quotes_followed_up,
            {{ percentile_days('follow_up_delay_seconds', 0.5) }}
                as median_follow_up_delay_days
        from quote_facts
        where {{ expr }} is not null
        group by {{ expr }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

invoice_kpis as (
    {%- for dimension, expr in dimensions %}
        select
            '{{ dimension }}' as dimension,
            {{ expr }} as group_key,
            count(*) as invoices_count,
            count(late_seconds) as paid_invoices,
            sum(case when is_paid_on_time then 1 else 0 end) as paid_on_time_invoices,
            {{ percentile_days('late_seconds', 0.5) }} as median_days_late,
            {{ percentile_days('late_seconds', 0.9) }} as p90_days_late,
            sum(case when is_open_at_as_of then 1 else 0 end) as open_invoices,
            sum(
                case when days_past_due > 0 then 1 else 0 end
            ) as overdue_invoices,
            {{ unless_fx_missing(
                'sum(coalesce(open_reporting_minor, 0))',
                'open_minor is not null and open_reporting_minor is null'
            ) }} as open_reporting_minor
        from invoices
        where {{ expr }} is not null
        group by {{ expr }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

group_keys as (
    select
        dimension,
        group_key
    from deal_kpis
    union
    select
        dimension,
        group_key
    from invoice_kpis
),

final as (
    select
        group_keys.dimension,
        group_keys.group_key,
        coalesce(deal_kpis.deals_count, 0) as deals_count,
        coalesce(deal_kpis.open_deals, 0) as open_deals,
        coalesce(deal_kpis.won_deals, 0) as won_deals,
        coalesce(deal_kpis.lost_deals, 0) as lost_deals,
        coalesce(deal_kpis.won_deals + deal_kpis.lost_deals, 0) as closed_deals,
        {{ safe_ratio('deal_kpis.won_deals', 'deal_kpis.won_deals + deal_kpis.lost_deals') }}
            as win_rate,
        deal_kpis.median_won_cycle_days,
        deal_kpis.p90_won_cycle_days,
        coalesce(deal_kpis.deals_with_lines, 0) as deals_with_lines,
        100.0 * {{ safe_ratio(
            'deal_kpis.discount_reporting_minor', 'deal_kpis.list_reporting_minor'
        ) }} as discount_pct,
        case
            when deal_kpis.group_key is not null then deal_kpis.leakage_reporting_minor
            else 0
        end as leakage_reporting_minor,
        coalesce(deal_kpis.above_policy_deals, 0) as above_policy_deals,
        {{ safe_ratio('deal_kpis.above_policy_deals', 'deal_kpis.deals_with_lines') }}
            as above_policy_share,
        coalesce(deal_kpis.paid_won_deals, 0) as paid_won_deals,
        deal_kpis.median_won_to_paid_days,
        coalesce(quote_kpis.quotes_sent, 0) as quotes_sent,
        coalesce(quote_kpis.quotes_follow_up_known, 0) as quotes_follow_up_known,
        coalesce(quote_kpis.quotes_followed_up, 0) as quotes_followed_up,
        {{ safe_ratio('quote_kpis.quotes_followed_up', 'quote_kpis.quotes_follow_up_known') }}
            as follow_up_share,
        quote_kpis.median_follow_up_delay_days,
        coalesce(invoice_kpis.invoices_count, 0) as invoices_count,
        coalesce(invoice_kpis.paid_invoices, 0) as paid_invoices,
        coalesce(invoice_kpis.paid_on_time_invoices, 0) as paid_on_time_invoices,
        {{ safe_ratio('invoice_kpis.paid_on_time_invoices', 'invoice_kpis.paid_invoices') }}
            as on_time_share,
        invoice_kpis.median_days_late,
        invoice_kpis.p90_days_late,
        coalesce(invoice_kpis.open_invoices, 0) as open_invoices,
        coalesce(invoice_kpis.overdue_invoices, 0) as overdue_invoices,
        case
            when invoice_kpis.group_key is not null then invoice_kpis.open_reporting_minor
            else 0
        end as open_reporting_minor
    from group_keys
    left join deal_kpis
        on
            group_keys.dimension = deal_kpis.dimension
            and group_keys.group_key = deal_kpis.group_key
    left join quote_kpis
        on
            group_keys.dimension = quote_kpis.dimension
            and group_keys.group_key = quote_kpis.group_key
    left join invoice_kpis
        on
            group_keys.dimension = invoice_kpis.dimension
            and group_keys.group_key = invoice_kpis.group_key
)

select * from final
