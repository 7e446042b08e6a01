-- Win rate of closed deals with vs without a customer-facing follow-up within var
-- follow_up_within_days of their last Quote Sent. Groups: followed_up, not_followed_up,
-- window_open (the last quote's window had not ended at as_of: undetermined), no_quote.
with deals as (
    select * from {{ ref('int_deals_discounted') }}
    where status in ('won', 'lost')
),

last_quotes as (
    select * from {{ ref('int_quotes_followed_up') }}
    where is_last_quote
),

grouped as (
    select
        deals.deal_key,
        deals.status,
        last_quotes.follow_up_delay_seconds,
        case
            when last_quotes.quote_key is null then 'no_quote'
            when last_quotes.is_followed_up_within_days then 'followed_up'
            when not last_quotes.is_followed_up_within_days then 'not_followed_up'
            else 'window_open'
        end as follow_up_group
    from deals
    left join last_quotes
        on
            deals.deal_key = last_quotes.deal_key
            and deals.source_system = last_quotes.source_system
),

groups as (
    select
        'followed_up' as follow_up_group,
        1 as group_order
    union all
    select
        'not_followed_up' as follow_up_group,
        2 as group_order
    union all
    select
        'window_open' as follow_up_group,
        3 as group_order
    union all
    select
        'no_quote' as follow_up_group,
        4 as group_order
),

group_kpis as (
    select
        follow_up_group,
        count(*) as closed_deals,
        sum(case when status = 'won' then 1 else 0 end) as won_deals,
        sum(case when status = 'lost' then 1 else 0 end) as lost_deals,
        {{ percentile_days('follow_up_delay_seconds', 0.5) }}
            as median_follow_up_delay_days
    from grouped
    group by follow_up_group
),

final as (
    select
        cast(groups.follow_up_group as {{ dbt.type_string() }}) as follow_up_group,
        cast(groups.group_order as {{ dbt.type_int() }}) as group_order,
        cast({{ var('follow_up_within_days') }} as {{ type_double() }})
            as follow_up_within_days,
        cast(coalesce(group_kpis.closed_deals, 0) as {{ dbt.type_bigint() }}) as closed_deals,
        cast(coalesce(group_kpis.won_deals, 0) as {{ dbt.type_bigint() }}) as won_deals,
        cast(coalesce(group_kpis.lost_deals, 0) as {{ dbt.type_bigint() }}) as lost_deals,
        cast(
            {{ safe_ratio('group_kpis.won_deals', 'group_kpis.closed_deals') }}
            as {{ type_double() }}
        ) as win_rate,
        cast(group_kpis.median_follow_up_delay_days as {{ type_double() }})
            as median_follow_up_delay_days
    from groups
    left join group_kpis
        on groups.follow_up_group = group_kpis.follow_up_group
)

select * from final
