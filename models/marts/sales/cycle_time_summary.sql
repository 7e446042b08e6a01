-- Cycle-time statistics per segment and group. One row per (segment, dimension, group_value):
-- dimension 'overall' (one group 'all'), 'start_month' (month the segment started), 'rep',
-- 'team', 'region', 'pipeline', 'source_system'. A missing group value is '(none)'.
-- median_days / p90_days use completed segments only: censored (open or abandoned) segments
-- are counted, never mixed into them. km_median_days / km_p90_days are Kaplan-Meier estimates
-- that also use the open segments (censored at as_of): the smallest elapsed time at which the
-- estimated share still running drops to 50% / 10% or below; null when the estimate never
-- gets there (too many still running). Abandoned segments (the case ended without the end
-- milestone) are left out of the estimate: they can no longer complete.
{%- set dimensions = [
    ('overall', "'all'", "'all'"),
    ('start_month', 'cast(start_month as ' ~ dbt.type_string() ~ ')',
     'cast(start_month as ' ~ dbt.type_string() ~ ')'),
    ('rep', 'owner_key', 'owner_name'),
    ('team', 'team', 'team'),
    ('region', 'region', 'region'),
    ('pipeline', 'pipeline', 'pipeline'),
    ('source_system', 'source_system', 'source_system'),
] %}

with cycle_times as (
    select * from {{ ref('case_cycle_times') }}
),

grouped as (
    {%- for dimension, value, label in dimensions %}
        select
            segment,
            segment_order,
            '{{ dimension }}' as dimension,
            coalesce({{ value }}, '(none)') as group_value,
            coalesce({{ label }}, {{ value }}, '(none)') as group_label,
            case_id,
            is_completed,
            segment_status,
            segment_status = 'abandoned' as is_abandoned,
            duration_days,
            elapsed_days
        from cycle_times
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

-- Kaplan-Meier over completed and open segments (abandoned ones can no longer complete, so
-- they are left out): order each group by elapsed time (completions before censorings at equal
-- times); the row at position k has n - k + 1 segments at risk, and each completion multiplies
-- the survival by (1 - 1 / at risk). Ties processed one by one give the same product as
-- (1 - d / n). The product is exp(sum(ln)) over the completions alone (a censored row's factor
-- is 1): the thresholds allow 1e-9 of rounding, so an estimate of exactly 50% counts as
-- reached. The two window passes run on the rows that need them (not the abandoned, then only
-- the completed), the biggest cost of this model at scale.
km_ranked as (
    select
        segment,
        dimension,
        group_value,
        is_completed,
        elapsed_days,
        count(*) over (
            partition by segment, dimension, group_value
        ) - row_number() over (
            partition by segment, dimension, group_value
            order by elapsed_days asc, is_completed desc, case_id asc
        ) + 1 as at_risk_count
    from grouped
    where not is_abandoned
),

km_survival as (
    select
        segment,
        dimension,
        group_value,
        elapsed_days,
        case
            when at_risk_count = 1 then 0.0
            else exp(sum(
                case when at_risk_count > 1 then ln(1.0 - 1.0 / at_risk_count) else 0.0 end
            ) over (
                partition by segment, dimension, group_value
                order by at_risk_count desc
                rows between unbounded preceding and current row
            ))
        end as survival
    from km_ranked
    where is_completed
),

km_estimates as (
    select
        segment,
        dimension,
        group_value,
        min(case when survival <= 0.5 + 1e-9 then elapsed_days end) as km_median_days,
        min(case when survival <= 0.1 + 1e-9 then elapsed_days end) as km_p90_days
    from km_survival
    group by segment, dimension, group_value
),

aggregated as (
    select
        segment,
        segment_order,
        dimension,
        group_value,
        min(group_label) as group_label,
        count(*) as segments_count,
        sum(case when is_completed then 1 else 0 end) as completed_count,
        sum(case when is_completed then 0 else 1 end) as censored_count,
        sum(case when segment_status = 'open' then 1 else 0 end) as open_count,
        sum(case when segment_status = 'abandoned' then 1 else 0 end) as abandoned_count,
        {{ median('duration_days') }} as median_days,
        {{ percentile_cont('duration_days', 0.9) }} as p90_days,
        avg(duration_days) as mean_days
    from grouped
    group by segment, segment_order, dimension, group_value
),

estimated as (
    select
        aggregated.*,
        km_estimates.km_median_days,
        km_estimates.km_p90_days
    from aggregated
    left join km_estimates
        on
            aggregated.segment = km_estimates.segment
            and aggregated.dimension = km_estimates.dimension
            and aggregated.group_value = km_estimates.group_value
),

final as (
    select
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(segment_order as {{ dbt.type_int() }}) as segment_order,
        cast(dimension as {{ dbt.type_string() }}) as dimension,
        cast(group_value as {{ dbt.type_string() }}) as group_value,
        cast(group_label as {{ dbt.type_string() }}) as group_label,
        cast(segments_count as {{ dbt.type_bigint() }}) as segments_count,
        cast(completed_count as {{ dbt.type_bigint() }}) as completed_count,
        cast(censored_count as {{ dbt.type_bigint() }}) as censored_count,
        cast(open_count as {{ dbt.type_bigint() }}) as open_count,
        cast(abandoned_count as {{ dbt.type_bigint() }}) as abandoned_count,
        cast(median_days as {{ type_double() }}) as median_days,
        cast(p90_days as {{ type_double() }}) as p90_days,
        cast(mean_days as {{ type_double() }}) as mean_days,
        cast(km_median_days as {{ type_double() }}) as km_median_days,
        cast(km_p90_days as {{ type_double() }}) as km_p90_days,
        cast(
            completed_count < {{ var('min_group_size') }} as {{ dbt.type_boolean() }}
        ) as is_below_min_group_size
    from estimated
)

select * from final
