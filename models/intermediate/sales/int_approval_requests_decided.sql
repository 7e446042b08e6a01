-- One row per approval request (approval_key) of a deal: who asked and when (its first
-- requested step), who decided and when (its first approved / rejected step), the decision
-- (null while pending) and the wait in seconds (request to decision). Ties on time go to the
-- smaller step key. With the deal's discount band (current lines), owner and outcome.
with steps as (
    select * from {{ ref('int_approval_steps_unioned') }}
    where deal_key is not null
),

deals as (
    select * from {{ ref('int_deals_discounted') }}
),

numbered as (
    select
        steps.*,
        case
            when steps.step_status = 'requested' then 'requested'
            when steps.step_status in ('approved', 'rejected') then 'decided'
        end as step_kind,
        row_number() over (
            partition by
                steps.source_system,
                steps.approval_key,
                case when steps.step_status = 'requested' then 0 else 1 end
            order by steps.acted_at, steps.approval_step_key
        ) as step_rank
    from steps
    where steps.step_status in ('requested', 'approved', 'rejected')
),

requested as (
    select * from numbered
    where step_kind = 'requested' and step_rank = 1
),

decided as (
    select * from numbered
    where step_kind = 'decided' and step_rank = 1
),

final as (
    select
        requested.approval_key,
        requested.source_system,
        requested.deal_key,
        requested.acted_at as requested_at,
        requested.actor_user_key as requester_user_key,
        decided.acted_at as decided_at,
        decided.actor_user_key as approver_user_key,
        decided.step_status as decision,
        deals.discount_band,
        deals.discount_band_order,
        deals.is_above_policy,
        deals.region,
        deals.status as deal_status,
        {{ dbt.datediff('requested.acted_at', 'decided.acted_at', 'second') }}
            as wait_seconds
    from requested
    left join decided
        on
            requested.approval_key = decided.approval_key
            and requested.source_system = decided.source_system
    left join deals
        on
            requested.deal_key = deals.deal_key
            and requested.source_system = deals.source_system
)

select * from final
