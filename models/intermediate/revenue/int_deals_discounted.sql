-- One row per non-deleted deal with its discount in minor units (cents), as defined once in
-- int_deal_lines_aggregated (list and net of the product lines, deal-level discounts, the
-- value-weighted discount %), its band and policy flag (seed discount_policy), the amounts in
-- var reporting_currency at the rate valid on the deal's creation date, and the sales-cycle
-- seconds. Deals without lines have null discount.
with deals as (
    select * from {{ ref('int_deals_enriched') }}
),

lines as (
    select * from {{ ref('int_deal_lines_aggregated') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_ranged') }}
),

discount_policy as (
    select * from {{ ref('discount_policy') }}
),

amounts as (
    select
        deals.deal_key,
        deals.source_system,
        deals.owner_user_key,
        deals.owner_name,
        deals.team_name,
        deals.region,
        deals.pipeline_name,
        deals.currency,
        deals.status,
        deals.created_at,
        deals.won_at,
        deals.closed_at,
        lines.list_minor,
        lines.line_net_minor,
        lines.deal_discount_minor,
        lines.net_minor,
        lines.discount_minor,
        lines.discount_pct,
        fx_rates.rate_to_reporting,
        coalesce(lines.lines_count, 0) as lines_count
    from deals
    left join lines
        on
            deals.deal_key = lines.deal_key
            and deals.source_system = lines.source_system
    left join fx_rates
        on
            deals.currency = fx_rates.currency_code
            and cast(deals.created_at as date) >= fx_rates.valid_from
            and cast(deals.created_at as date) < fx_rates.valid_to
),

measured as (
    select
        *,
        {{ convert_minor_units('list_minor', 'rate_to_reporting') }} as list_reporting_minor,
        {{ convert_minor_units('net_minor', 'rate_to_reporting') }} as net_reporting_minor,
        case
            when status = 'won'
                then {{ dbt.datediff('created_at', 'won_at', 'second') }}
        end as won_cycle_seconds,
        case
            when status in ('won', 'lost')
                then {{ dbt.datediff('created_at', 'closed_at', 'second') }}
        end as closed_cycle_seconds
    from amounts
),

final as (
    select
        measured.*,
        discount_policy.discount_band,
        discount_policy.band_order as discount_band_order,
        discount_policy.is_above_policy,
        measured.list_reporting_minor
        - measured.net_reporting_minor as discount_reporting_minor
    from measured
    left join discount_policy
        on
            measured.discount_pct is not null
            and (
                discount_policy.lower_bound_pct is null
                or measured.discount_pct >= discount_policy.lower_bound_pct
            )
            and (
                discount_policy.upper_bound_pct is null
                or measured.discount_pct < discount_policy.upper_bound_pct
            )
)

select * from final
