-- Win rates of deals as at the as-of instant. One row per (dimension, group_value):
-- dimension 'overall' (group 'all'), 'cohort_month' (month the deal was created), 'rep'
-- (current owner), 'team', 'region', 'pipeline', 'source_system'. A missing value is '(none)'.
-- win_rate = won / (won + lost): closed deals only, open deals are not in the denominator.
{%- set dimensions = [
    ('overall', "'all'", "'all'"),
    ('cohort_month', 'cast(cohort_month as ' ~ dbt.type_string() ~ ')',
     'cast(cohort_month as ' ~ dbt.type_string() ~ ')'),
    ('rep', 'owner_key', 'owner_name'),
    ('team', 'team', 'team'),
    ('region', 'region', 'region'),
    ('pipeline', 'pipeline', 'pipeline'),
    ('source_system', 'source_system', 'source_system'),
] %}

with cases as (
    select * from {{ ref('cases') }}
    where case_type = 'deal'
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

deals as (
    select
        cases.case_id,
        cases.source_system,
        cases.owner_key,
        cases.owner_name,
        cases.team,
        cases.region,
        cases.pipeline,
        cases.deal_value_reporting,
        cases.deal_value is not null and cases.deal_value_reporting is null as is_fx_missing,
        cast({{ dbt.date_trunc('month', 'cases.deal_created_at') }} as date) as cohort_month,
        {{ outcome_at_as_of() }} as outcome_at_as_of
    from cases
    inner join as_of
        on cases.source_system = as_of.source_system
    where {{ created_by_as_of() }}
),

grouped as (
    {%- for dimension, value, label in dimensions %}
        select
            '{{ dimension }}' as dimension,
            coalesce({{ value }}, '(none)') as group_value,
            coalesce({{ label }}, {{ value }}, '(none)') as group_label,
            outcome_at_as_of,
            deal_value_reporting,
            is_fx_missing
        from deals
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

aggregated as (
    select
        dimension,
        group_value,
        min(group_label) as group_label,
        {{ outcome_counts() }},
        {{ unless_fx_missing(
            "sum(case when outcome_at_as_of = 'won' then deal_value_reporting else 0 end)",
            "outcome_at_as_of = 'won' and is_fx_missing"
        ) }} as won_value_reporting,
        {{ unless_fx_missing(
            "sum(case when outcome_at_as_of = 'lost' then deal_value_reporting else 0 end)",
            "outcome_at_as_of = 'lost' and is_fx_missing"
        ) }} as lost_value_reporting
    from grouped
    group by dimension, group_value
),

final as (
    select
        cast(dimension as {{ dbt.type_string() }}) as dimension,
        cast(group_value as {{ dbt.type_string() }}) as group_value,
        cast(group_label as {{ dbt.type_string() }}) as group_label,
        {{ win_rate_columns() }},
        cast(
            case
                when won_value_reporting + lost_value_reporting > 0
                    then won_value_reporting / (won_value_reporting + lost_value_reporting)
            end as {{ type_double() }}
        ) as value_win_rate,
        cast(won_value_reporting as {{ type_double() }}) as won_value_reporting,
        cast(lost_value_reporting as {{ type_double() }}) as lost_value_reporting,
        {{ below_min_group_size('won_count + lost_count') }} as is_below_min_group_size
    from aggregated
)

select * from final
