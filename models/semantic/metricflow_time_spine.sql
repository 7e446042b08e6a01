-- The day spine MetricFlow joins metrics to (one row per calendar day, 2015 to 2035).
with days as (
    {{ dbt.date_spine(
        'day',
        "cast('2015-01-01' as date)",
        "cast('2036-01-01' as date)"
    ) }}
),

final as (
    select cast(date_day as date) as date_day
    from days
)

select * from final
