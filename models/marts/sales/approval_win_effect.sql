-- Win rate of closed deals by how long they waited for discount approvals, per source
-- system that records approvals: no_approval, quick_approval (decided requests waited less
-- than var approval_slow_days in total), slow_approval (that long or longer). A group with
-- fewer closed deals than var min_group_size is flagged and gets no comparison.
with deals as (
    select * from {{ ref('int_deals_discounted') }}
    where status in ('won', 'lost')
),

requests as (
    select * from {{ ref('int_approval_requests_decided') }}
),

systems as (
    select distinct source_system from requests
),

deal_waits as (
    select
        source_system,
        deal_key,
        sum(wait_seconds) as wait_seconds
    from requests
    group by source_system, deal_key
),

grouped as (
    select
        deals.source_system,
        deals.deal_key,
        deals.status,
        deal_waits.wait_seconds,
        case
            when deal_waits.deal_key is null then 'no_approval'
            when
                coalesce(deal_waits.wait_seconds, 0)
                < {{ var('approval_slow_days') }} * 86400
                then 'quick_approval'
            else 'slow_approval'
        end as approval_group
    from deals
    inner join systems
        on deals.source_system = systems.source_system
    left join deal_waits
        on
            deals.deal_key = deal_waits.deal_key
            and deals.source_system = deal_waits.source_system
),

group_names as (
    select
        'no_approval' as approval_group,
        1 as group_order
    union all
    select
        'quick_approval' as approval_group,
        2 as group_order
    union all
    select
        'slow_approval' as approval_group,
        3 as group_order
),

system_groups as (
    select
        systems.source_system,
        group_names.approval_group,
        group_names.group_order
    from systems
    cross join group_names
),

group_kpis as (
    select
        source_system,
        approval_group,
        count(*) as closed_deals,
        sum(case when status = 'won' then 1 else 0 end) as won_deals,
        {{ percentile_days('wait_seconds', 0.5) }} as median_wait_days
    from grouped
    group by source_system, approval_group
),

measured as (
    select
        system_groups.source_system,
        system_groups.approval_group,
        system_groups.group_order,
        coalesce(group_kpis.closed_deals, 0) as closed_deals,
        coalesce(group_kpis.won_deals, 0) as won_deals,
        {{ safe_ratio('group_kpis.won_deals', 'group_kpis.closed_deals') }} as win_rate,
        group_kpis.median_wait_days,
        coalesce(group_kpis.closed_deals, 0) < {{ var('min_group_size') }}
            as is_below_min_group_size
    from system_groups
    left join group_kpis
        on
            system_groups.source_system = group_kpis.source_system
            and system_groups.approval_group = group_kpis.approval_group
),

baseline as (
    select
        source_system,
        win_rate,
        is_below_min_group_size
    from measured
    where approval_group = 'no_approval'
),

final as (
    select
        cast(measured.source_system as {{ dbt.type_string() }}) as source_system,
        cast(measured.approval_group as {{ dbt.type_string() }}) as approval_group,
        cast(measured.group_order as {{ dbt.type_int() }}) as group_order,
        cast({{ var('approval_slow_days') }} as {{ type_double() }}) as approval_slow_days,
        cast(measured.closed_deals as {{ dbt.type_bigint() }}) as closed_deals,
        cast(measured.won_deals as {{ dbt.type_bigint() }}) as won_deals,
        cast(measured.closed_deals - measured.won_deals as {{ dbt.type_bigint() }})
            as lost_deals,
        cast(measured.win_rate as {{ type_double() }}) as win_rate,
        cast(measured.median_wait_days as {{ type_double() }}) as median_wait_days,
        cast(measured.is_below_min_group_size as {{ dbt.type_boolean() }})
            as is_below_min_group_size,
        cast(
            case
                when
                    not measured.is_below_min_group_size
                    and not baseline.is_below_min_group_size
                    then measured.win_rate - baseline.win_rate
            end as {{ type_double() }}
        ) as win_rate_vs_no_approval
    from measured
    left join baseline
        on measured.source_system = baseline.source_system
)

select * from final
