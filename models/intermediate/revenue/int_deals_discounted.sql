-- One row per non-deleted deal with its discount in minor units (cents): list and net of the
-- product lines, deal-level discounts (a percentage of the line net sum, rounded to the cent,
-- or an amount), the value-weighted discount % and its band and policy flag (seed
-- discount_policy), the amounts in var reporting_currency at the rate valid on the deal's
-- creation date, and the sales-cycle seconds. Deals without lines have null discount.
with deals as (
    select * from {{ ref('int_deals_enriched') }}
),

lines as (
    select * from {{ ref('int_deal_lines_unioned') }}
),

deal_discounts as (
    select * from {{ ref('int_deal_discounts_unioned') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_ranged') }}
),

discount_policy as (
    select * from {{ ref('discount_policy') }}
),

line_totals as (
    select
        source_system,
        deal_key,
        count(*) as lines_count,
        sum({{ to_minor_units('list_amount') }}) as list_minor,
        sum({{ to_minor_units('net_amount') }}) as line_net_minor
    from lines
    group by source_system, deal_key
),

deal_level as (
    select
        line_totals.source_system,
        line_totals.deal_key,
        sum(
            case
                when deal_discounts.discount_type = 'percentage'
                    then {{ convert_minor_units(
                        'line_totals.line_net_minor', 'deal_discounts.discount_value / 100.0'
                    ) }}
                else {{ to_minor_units('deal_discounts.discount_value') }}
            end
        ) as deal_discount_minor
    from line_totals
    inner join deal_discounts
        on
            line_totals.deal_key = deal_discounts.deal_key
            and line_totals.source_system = deal_discounts.source_system
    group by line_totals.source_system, line_totals.deal_key
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
        line_totals.list_minor,
        line_totals.line_net_minor,
        fx_rates.rate_to_reporting,
        coalesce(line_totals.lines_count, 0) as lines_count,
        case
            when line_totals.deal_key is not null
                then coalesce(deal_level.deal_discount_minor, 0)
        end as deal_discount_minor,
        line_totals.line_net_minor
        - coalesce(deal_level.deal_discount_minor, 0) as net_minor
    from deals
    left join line_totals
        on
            deals.deal_key = line_totals.deal_key
            and deals.source_system = line_totals.source_system
    left join deal_level
        on
            deals.deal_key = deal_level.deal_key
            and deals.source_system = deal_level.source_system
    left join fx_rates
        on
            deals.currency = fx_rates.currency_code
            and cast(deals.created_at as date) >= fx_rates.valid_from
            and cast(deals.created_at as date) < fx_rates.valid_to
),

measured as (
    select
        *,
        list_minor - net_minor as discount_minor,
        case
            when list_minor > 0
                then 100.0 * {{ safe_ratio('list_minor - net_minor', 'list_minor') }}
        end as discount_pct,
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
