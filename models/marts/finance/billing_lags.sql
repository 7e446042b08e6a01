-- Booked -> billed lag per group: days from a deal's win to its first invoice (the first
-- finalization of a non-void invoice linked to it), over the deals won by as_of. One row per
-- (dimension, group_value): dimension 'overall' (group 'all'), 'region' (the deal's region,
-- '(none)' without one), 'source_system' (the deal's CRM). Deals not invoiced yet are counted
-- in won_deals, not in the lag (censored, not short). lag_rank 1 = the slowest median;
-- null when invoiced_deals is below var min_group_size.
with deals as (
    select * from {{ ref('int_deal_billing_lags') }}
),

grouped as (
    select
        'overall' as dimension,
        'all' as group_value,
        deals.*
    from deals
    union all
    select
        'region' as dimension,
        region as group_value,
        deals.*
    from deals
    union all
    select
        'source_system' as dimension,
        source_system as group_value,
        deals.*
    from deals
),

aggregated as (
    select
        dimension,
        group_value,
        count(*) as won_deals,
        sum(case when first_invoiced_at is not null then 1 else 0 end) as invoiced_deals,
        {{ unless_fx_missing('sum(booked_reporting_minor)', 'booked_reporting_minor is null') }}
            as booked_minor,
        {{ percentile_days('won_to_invoice_seconds', 0.5) }} as median_days_won_to_invoice,
        {{ percentile_days('won_to_invoice_seconds', 0.9) }} as p90_days_won_to_invoice
    from grouped
    group by dimension, group_value
),

ranked as (
    select
        *,
        invoiced_deals < {{ var('min_group_size') }} as is_below_min_group_size,
        case
            when invoiced_deals >= {{ var('min_group_size') }}
                then rank() over (
                    partition by dimension, invoiced_deals >= {{ var('min_group_size') }}
                    order by median_days_won_to_invoice desc
                )
        end as lag_rank
    from aggregated
),

final as (
    select
        cast(dimension as {{ dbt.type_string() }}) as dimension,
        cast(group_value as {{ dbt.type_string() }}) as group_value,
        cast(won_deals as {{ dbt.type_bigint() }}) as won_deals,
        cast(invoiced_deals as {{ dbt.type_bigint() }}) as invoiced_deals,
        cast({{ from_minor_units('booked_minor') }} as {{ type_double() }}) as booked_reporting,
        cast(median_days_won_to_invoice as {{ type_double() }}) as median_days_won_to_invoice,
        cast(p90_days_won_to_invoice as {{ type_double() }}) as p90_days_won_to_invoice,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        cast(lag_rank as {{ dbt.type_bigint() }}) as lag_rank,
        cast(is_below_min_group_size as {{ dbt.type_boolean() }}) as is_below_min_group_size
    from ranked
)

select * from final
