-- FX rates to the reporting currency with a validity range [valid_from, valid_to).
with rates as (
    select
        upper(currency_code) as currency_code,
        cast(valid_from as date) as valid_from,
        cast(rate_to_reporting as {{ type_double() }}) as rate_to_reporting
    from {{ ref('fx_rates') }}
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
