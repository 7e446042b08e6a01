-- FX rates to the reporting currency with a validity range [valid_from, valid_to). The
-- reporting currency converts at 1 on any date, also before its first seed row.
{%- set reporting = var('reporting_currency') | upper %}
with seeded as (
    select
        upper(currency_code) as currency_code,
        cast(valid_from as date) as valid_from,
        cast(rate_to_reporting as {{ type_double() }}) as rate_to_reporting
    from {{ ref('fx_rates') }}
),

seeded_since_ever as (
    select count(*) as rows_count
    from seeded
    where
        currency_code = '{{ reporting }}'
        and valid_from <= cast('1900-01-01' as date)
),

reporting_since_ever as (
    select
        '{{ reporting }}' as currency_code,
        cast('1900-01-01' as date) as valid_from,
        cast(1.0 as {{ type_double() }}) as rate_to_reporting
    from seeded_since_ever
    where rows_count = 0
),

rates as (
    select * from seeded
    union all
    select * from reporting_since_ever
),

ranged as (
    select
        currency_code,
        valid_from,
        rate_to_reporting,
        coalesce(
            lead(valid_from) over (partition by currency_code order by valid_from),
            cast('9999-12-31' as date)
        ) as valid_to
    from rates
),

final as (
    select
        currency_code,
        valid_from,
        valid_to,
        rate_to_reporting
    from ranged
)

select * from final
