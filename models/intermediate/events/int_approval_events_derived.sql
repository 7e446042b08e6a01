-- Approval family for the discount approvals of a case deal: Quote Approval Requested (the
-- submission; resource = the submitter), Quote Approval Approved / Rejected (the decision;
-- resource = the approver). The events belong to the deal the approval was asked for.
with steps as (
    select * from {{ ref('int_approval_steps_unioned') }}
),

deals as (
    select * from {{ ref('int_deals_filtered') }}
),

case_steps as (
    select
        steps.*,
        case steps.step_status
            when 'requested' then 'Quote Approval Requested'
            when 'approved' then 'Quote Approval Approved'
            when 'rejected' then 'Quote Approval Rejected'
        end as activity
    from steps
    inner join deals
        on
            steps.deal_key = deals.deal_key
            and steps.source_system = deals.source_system
    where steps.acted_at is not null
),

final as (
    select
        deal_key as case_id,
        activity,
        acted_at as event_at,
        'deal' as object_type,
        deal_key as object_id,
        source_system,
        approval_step_id as source_row_id,
        actor_user_key as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        cast(null as {{ type_double() }}) as amount,
        cast(null as {{ dbt.type_string() }}) as currency
    from case_steps
    where activity is not null
)

select * from final
