-- One row per deal with line items: list and net amounts and the value-weighted discount,
-- including deal-level additional discounts (percentage of the net line sum, or an amount).
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
        sum(list_amount) as list_amount,
        sum(net_amount) as line_net_amount
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
                    then line_totals.line_net_amount * deal_discounts.discount_value / 100.0
                else deal_discounts.discount_value
            end
        ) as deal_discount_amount
    from line_totals
    inner join deal_discounts
        on
            line_totals.deal_key = deal_discounts.deal_key
            and line_totals.source_system = deal_discounts.source_system
    group by line_totals.source_system, line_totals.deal_key
),

final as (
    select
        line_totals.source_system,
        line_totals.deal_key,
        line_totals.lines_count,
        line_totals.list_amount,
        line_totals.line_net_amount,
        coalesce(deal_level.deal_discount_amount, 0) as deal_discount_amount,
        line_totals.line_net_amount
        - coalesce(deal_level.deal_discount_amount, 0) as net_amount,
        case
            when line_totals.list_amount > 0
                then 100.0 * (
                    line_totals.list_amount
                    - (line_totals.line_net_amount - coalesce(deal_level.deal_discount_amount, 0))
                ) / line_totals.list_amount
        end as discount_pct
    from line_totals
    left join deal_level
        on
            line_totals.deal_key = deal_level.deal_key
            and line_totals.source_system = deal_level.source_system
)

select * from final
