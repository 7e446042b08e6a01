-- Segment attributes of each deal (not deleted): deal_type as its system names it, the primary
-- campaign (the deal's own, else its lead's campaign: a CRM without a campaign field on deals
-- still gets the campaign its lead came from) and the main product category: the category of
-- the deal's line with the largest list amount (ties: the category that sorts first; lines
-- without a category or a positive list amount, e.g. a deal-level discount line, are left out).
with deals as (
    select * from {{ ref('int_deals_filtered') }}
),

lead_campaigns as (
    select * from {{ ref('int_lead_campaigns_resolved') }}
),

campaigns as (
    select * from {{ ref('int_campaigns_unioned') }}
),

lines as (
    select * from {{ ref('int_deal_lines_unioned') }}
),

products as (
    select * from {{ ref('int_products_resolved') }}
),

categorised_lines as (
    select
        lines.source_system,
        lines.deal_key,
        products.product_category,
        row_number() over (
            partition by lines.source_system, lines.deal_key
            order by round(lines.list_amount, 2) desc, products.product_category
        ) as line_rank
    from lines
    inner join products
        on
            lines.product_key = products.product_key
            and lines.source_system = products.source_system
    where products.product_category is not null and lines.list_amount > 0
),

main_categories as (
    select
        source_system,
        deal_key,
        product_category
    from categorised_lines
    where line_rank = 1
),

final as (
    select
        deals.source_system,
        deals.deal_key,
        deals.deal_type,
        main_categories.product_category,
        coalesce(deals.campaign_key, lead_campaigns.campaign_key) as campaign_key,
        case
            when deals.campaign_key is not null then campaigns.campaign_name
            else lead_campaigns.campaign_name
        end as campaign_name,
        case
            when deals.campaign_key is not null then campaigns.campaign_type
            else lead_campaigns.campaign_type
        end as campaign_type
    from deals
    left join campaigns
        on
            deals.campaign_key = campaigns.campaign_key
            and deals.source_system = campaigns.source_system
    left join lead_campaigns
        on
            deals.lead_key = lead_campaigns.lead_key
            and deals.source_system = lead_campaigns.source_system
    left join main_categories
        on
            deals.deal_key = main_categories.deal_key
            and deals.source_system = main_categories.source_system
)

select * from final
