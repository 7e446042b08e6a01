-- One row per deal case of a system that can observe owner changes (Owner Changed in
-- int_observable_activities_resolved): whether its owner changed at or before as_of (and how
-- often), its outcome at as_of and its cycle (creation to won / lost, seconds; null while
-- open). A deal of a system blind to owner changes is not here: it cannot be counted as
-- "not reassigned".
with cases as (
    select * from {{ ref('cases') }}
    where case_type = 'deal'
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

observable as (
    select distinct source_system
    from {{ ref('int_observable_activities_resolved') }}
    where activity = 'Owner Changed'
),

changes as (
    select
        changes.source_system,
        changes.deal_key,
        count(*) as owner_changes
    from {{ ref('int_owner_changes_unioned') }} as changes
    inner join as_of
        on changes.source_system = as_of.source_system
    where changes.object_type = 'deal' and changes.changed_at <= as_of.as_of
    group by changes.source_system, changes.deal_key
),

outcomes as (
    select
        cases.case_id as deal_key,
        cases.source_system,
        cases.deal_created_at,
        case
            when cases.outcome = 'won' and cases.won_at <= as_of.as_of then 'won'
            when cases.outcome = 'lost' and cases.lost_at <= as_of.as_of then 'lost'
            else 'open'
        end as outcome_at_as_of,
        case
            when cases.outcome = 'won' and cases.won_at <= as_of.as_of then cases.won_at
            when cases.outcome = 'lost' and cases.lost_at <= as_of.as_of then cases.lost_at
        end as closed_at
    from cases
    inner join as_of
        on cases.source_system = as_of.source_system
    inner join observable
        on cases.source_system = observable.source_system
    where cases.deal_created_at <= as_of.as_of
),

final as (
    select
        outcomes.deal_key,
        outcomes.source_system,
        coalesce(changes.owner_changes, 0) > 0 as is_reassigned,
        coalesce(changes.owner_changes, 0) as owner_changes,
        outcomes.outcome_at_as_of,
        outcomes.deal_created_at,
        outcomes.closed_at,
        {{ dbt.datediff('outcomes.deal_created_at', 'outcomes.closed_at', 'second') }}
            as cycle_seconds
    from outcomes
    left join changes
        on
            outcomes.deal_key = changes.deal_key
            and outcomes.source_system = changes.source_system
)

select * from final
