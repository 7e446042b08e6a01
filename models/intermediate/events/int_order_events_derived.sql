-- Order family for the orders of a case deal: Sales Order Created and Order Fulfilled.
-- An order can come from another system than its deal (e.g. an ERP export), so the join is
-- on the deal key alone: the key already carries the deal's system.
with orders as (
    select * from {{ ref('int_orders_unioned') }}
),

deals as (
    select * from {{ ref('int_deals_filtered') }}
),

case_orders as (
    select orders.*
    from orders
    inner join deals
        on orders.deal_key = deals.deal_key
),

final as (
    {{ timestamp_events('case_orders', 'order', 'order_key', 'order_id', [
        ['Sales Order Created', 'created_at', 'amount'],
        ['Order Fulfilled', 'fulfilled_at', 'amount'],
    ], resource_user_key='owner_user_key') }}
)

select * from final
