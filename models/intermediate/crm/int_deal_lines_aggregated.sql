-- One row per deal with line items: its discount, exact in minor units (cents). List and net
-- of the product lines (each line rounded to the cent), deal-level additional discounts (a
-- percentage of the line net sum, rounded to the cent, or an amount), the net after them and
-- the value-weighted discount %. The one definition of a deal's discount: cases (through
-- int_deals_enriched) and the revenue marts (through int_deals_discounted) read it from here.
with lines as (
    select * from {{ ref('int_deal_lines_unioned') }}
),

deal_discounts as (
    select * from {{ ref('int_deal_discounts_unioned') }}
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

netted as (
    select
        line_totals.source_system,
        line_totals.deal_key,
        line_totals.lines_count,
        line_totals.list_minor,
        line_totals.line_net_minor,
        coalesce(deal_level.deal_discount_minor, 0) as deal_discount_minor,
        line_totals.line_net_minor
        - coalesce(deal_level.deal_discount_minor, 0) as net_minor
    from line_totals
    left join deal_level
        on
            line_totals.deal_key = deal_level.deal_key
            and line_totals.source_system = deal_level.source_system
),

final as (
    select
        *,
        list_minor - net_minor as discount_minor,
        case
            when list_minor > 0
                then 100.0 * {{ safe_ratio('list_minor - net_minor', 'list_minor') }}
        end as discount_pct
    from netted
)

select * from final
