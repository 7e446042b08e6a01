-- Conformance rate and outcomes of fitting vs deviating cases, overall ('all') and per rep
-- (cases.owner_name), region and source system; a missing value is '(none)'. Rates over all
-- cases of the group; win rates over closed cases only. Steps a case's system cannot observe
-- are no deviation: they are named per group (unobservable_steps, in catalog order).
{%- set dimensions = [
    ('rep', 'owner_name'),
    ('region', 'region'),
    ('source_system', 'source_system'),
] %}
{%- set flags = [
    'fits', 'has_skipped', 'has_extra', 'has_out_of_order', 'has_repeated', 'outcome',
] %}

with conformance as (
    select * from {{ ref('case_conformance') }}
),

cases as (
    select * from {{ ref('cases') }}
),

unobservable as (
    select * from {{ ref('conformance_unobservable_steps') }}
),

catalog as (
    select * from {{ ref('activity_catalog') }}
),

per_case as (
    select
        conformance.path,
        cases.source_system as case_system,
        conformance.fits,
        cases.outcome,
        cases.owner_name,
        cases.region,
        cases.source_system,
        conformance.skipped_count > 0 as has_skipped,
        conformance.extra_count > 0 as has_extra,
        conformance.out_of_order_count > 0 as has_out_of_order,
        conformance.repeated_count > 0 as has_repeated
    from conformance
    inner join cases
        on conformance.case_id = cases.case_id
),

unpivoted as (
    select
        'all' as dimension,
        'all' as dimension_value,
        path,
        case_system,
        {{ flags | join(', ') }}
    from per_case
    {%- for dimension, column in dimensions %}
        union all
        select
            '{{ dimension }}' as dimension,
            coalesce(cast({{ column }} as {{ dbt.type_string() }}), '(none)') as dimension_value,
            path,
            case_system,
            {{ flags | join(', ') }}
        from per_case
    {%- endfor %}
),

blind_scopes as (
    select distinct
        path,
        source_system
    from unobservable
),

flagged as (
    select
        unpivoted.*,
        blind_scopes.path is not null as has_unobservable
    from unpivoted
    left join blind_scopes
        on
            unpivoted.path = blind_scopes.path
            and unpivoted.case_system = blind_scopes.source_system
),

group_scopes as (
    select distinct
        dimension,
        dimension_value,
        path,
        case_system
    from unpivoted
),

group_steps as (
    select distinct
        scopes.dimension,
        scopes.dimension_value,
        unobservable.activity,
        catalog.sort_order
    from group_scopes as scopes
    inner join unobservable
        on
            scopes.path = unobservable.path
            and scopes.case_system = unobservable.source_system
    left join catalog
        on unobservable.activity = catalog.activity
),

steps_listed as (
    select
        dimension,
        dimension_value,
        {{ ordered_listagg('activity', "', '", 'sort_order') }} as unobservable_steps
    from group_steps
    group by dimension, dimension_value
),

grouped as (
    select
        dimension,
        dimension_value,
        count(*) as cases_count,
        sum(case when fits then 1 else 0 end) as fitting_cases,
        sum(case when has_skipped then 1 else 0 end) as cases_with_skipped,
        sum(case when has_extra then 1 else 0 end) as cases_with_extra,
        sum(case when has_out_of_order then 1 else 0 end) as cases_with_out_of_order,
        sum(case when has_repeated then 1 else 0 end) as cases_with_repeated,
        sum(case when fits and outcome = 'won' then 1 else 0 end) as won_fitting,
        sum(case when fits and outcome = 'lost' then 1 else 0 end) as lost_fitting,
        sum(case when not fits and outcome = 'won' then 1 else 0 end) as won_deviating,
        sum(case when not fits and outcome = 'lost' then 1 else 0 end) as lost_deviating,
        sum(case when has_unobservable then 1 else 0 end) as cases_with_unobservable_steps
    from flagged
    group by dimension, dimension_value
),

with_steps as (
    select
        grouped.*,
        steps_listed.unobservable_steps
    from grouped
    left join steps_listed
        on
            grouped.dimension = steps_listed.dimension
            and grouped.dimension_value = steps_listed.dimension_value
),

final as (
    select
        cast(dimension as {{ dbt.type_string() }}) as dimension,
        cast(dimension_value as {{ dbt.type_string() }}) as dimension_value,
        cast(cases_count as {{ dbt.type_bigint() }}) as cases_count,
        cast(fitting_cases as {{ dbt.type_bigint() }}) as fitting_cases,
        cast({{ safe_ratio('fitting_cases', 'cases_count') }} as {{ type_double() }})
            as conformance_rate,
        cast(cases_with_skipped as {{ dbt.type_bigint() }}) as cases_with_skipped,
        cast(cases_with_extra as {{ dbt.type_bigint() }}) as cases_with_extra,
        cast(cases_with_out_of_order as {{ dbt.type_bigint() }}) as cases_with_out_of_order,
        cast(cases_with_repeated as {{ dbt.type_bigint() }}) as cases_with_repeated,
        cast(won_fitting as {{ dbt.type_bigint() }}) as won_fitting,
        cast(lost_fitting as {{ dbt.type_bigint() }}) as lost_fitting,
        cast(
            {{ safe_ratio('won_fitting', 'won_fitting + lost_fitting') }} as {{ type_double() }}
        ) as win_rate_fitting,
        cast(won_deviating as {{ dbt.type_bigint() }}) as won_deviating,
        cast(lost_deviating as {{ dbt.type_bigint() }}) as lost_deviating,
        cast(
            {{ safe_ratio('won_deviating', 'won_deviating + lost_deviating') }}
            as {{ type_double() }}
        ) as win_rate_deviating,
        cast(
            cases_count >= {{ var('min_group_size') }} as {{ dbt.type_boolean() }}
        ) as meets_min_group_size,
        cast(cases_with_unobservable_steps as {{ dbt.type_bigint() }})
            as cases_with_unobservable_steps,
        cast(unobservable_steps as {{ dbt.type_string() }}) as unobservable_steps
    from with_steps
)

select * from final
