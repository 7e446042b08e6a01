-- Discount approvals per source system that records them: approval rate and wait, over all
-- requests, per discount band of the deal and per requesting rep. A group whose decided
-- requests are fewer than var min_group_size is flagged and not ranked.
with requests as (
    select * from {{ ref('int_approval_requests_decided') }}
),

users as (
    select * from {{ ref('int_users_enriched') }}
),

tagged as (
    select
        source_system,
        'all' as dimension,
        'all' as group_key,
        'all requests' as group_name,
        0 as group_order,
        approval_key,
        deal_key,
        decision,
        wait_seconds
    from requests
    union all
    select
        source_system,
        'discount_band' as dimension,
        coalesce(discount_band, 'no lines') as group_key,
        coalesce(discount_band, 'no lines') as group_name,
        coalesce(discount_band_order, 99) as group_order,
        approval_key,
        deal_key,
        decision,
        wait_seconds
    from requests
    union all
    select
        requests.source_system,
        'rep' as dimension,
        coalesce(requests.requester_user_key, 'unknown') as group_key,
        coalesce(users.user_name, requests.requester_user_key, 'unknown') as group_name,
        0 as group_order,
        requests.approval_key,
        requests.deal_key,
        requests.decision,
        requests.wait_seconds
    from requests
    left join users
        on requests.requester_user_key = users.user_key
),

aggregated as (
    select
        source_system,
        dimension,
        group_key,
        min(group_name) as group_name,
        min(group_order) as group_order,
        count(*) as requests,
        count(distinct deal_key) as deals,
        count(decision) as decided_requests,
        sum(case when decision = 'approved' then 1 else 0 end) as approved_requests,
        sum(case when decision = 'rejected' then 1 else 0 end) as rejected_requests,
        {{ percentile_days('wait_seconds', 0.5) }} as median_wait_days,
        {{ percentile_days('wait_seconds', 0.9) }} as p90_wait_days
    from tagged
    group by source_system, dimension, group_key
),

guarded as (
    select
        *,
        decided_requests < {{ var('min_group_size') }} as is_below_min_group_size
    from aggregated
),

ranked as (
    select
        *,
        case
            when not is_below_min_group_size and dimension <> 'all'
                then rank() over (
                    partition by source_system, dimension, is_below_min_group_size
                    order by median_wait_days desc
                )
        end as slowest_wait_rank
    from guarded
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(dimension as {{ dbt.type_string() }}) as dimension,
        cast(group_key as {{ dbt.type_string() }}) as group_key,
        cast(group_name as {{ dbt.type_string() }}) as group_name,
        cast(group_order as {{ dbt.type_int() }}) as group_order,
        cast(requests as {{ dbt.type_bigint() }}) as requests,
        cast(deals as {{ dbt.type_bigint() }}) as deals,
        cast(decided_requests as {{ dbt.type_bigint() }}) as decided_requests,
        cast(approved_requests as {{ dbt.type_bigint() }}) as approved_requests,
        cast(rejected_requests as {{ dbt.type_bigint() }}) as rejected_requests,
        cast(
            {{ safe_ratio('approved_requests', 'decided_requests') }} as {{ type_double() }}
        ) as approval_rate,
        cast(median_wait_days as {{ type_double() }}) as median_wait_days,
        cast(p90_wait_days as {{ type_double() }}) as p90_wait_days,
        cast(is_below_min_group_size as {{ dbt.type_boolean() }}) as is_below_min_group_size,
        cast(slowest_wait_rank as {{ dbt.type_int() }}) as slowest_wait_rank
    from ranked
)

select * from final
