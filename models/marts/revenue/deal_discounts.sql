-- One row per non-deleted deal: value-weighted discount from its product lines and deal-level
-- discounts, its discount band and policy flag, amounts in var reporting_currency.
with deals as (
    select * from {{ ref('int_deals_discounted') }}
),

final as (
    select
        cast(deal_key as {{ dbt.type_string() }}) as deal_key,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(owner_user_key as {{ dbt.type_string() }}) as owner_key,
        cast(owner_name as {{ dbt.type_string() }}) as owner_name,
        cast(team_name as {{ dbt.type_string() }}) as team,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(pipeline_name as {{ dbt.type_string() }}) as pipeline,
        cast(status as {{ dbt.type_string() }}) as outcome,
        cast(created_at as {{ dbt.type_timestamp() }}) as deal_created_at,
        cast(won_at as {{ dbt.type_timestamp() }}) as won_at,
        cast(closed_at as {{ dbt.type_timestamp() }}) as closed_at,
        cast(lines_count as {{ dbt.type_bigint() }}) as lines_count,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast({{ from_minor_units('list_minor') }} as {{ type_double() }}) as list_amount,
        cast(
            {{ from_minor_units('line_net_minor') }} as {{ type_double() }}
        ) as line_net_amount,
        cast(
            {{ from_minor_units('deal_discount_minor') }} as {{ type_double() }}
        ) as deal_discount_amount,
        cast({{ from_minor_units('net_minor') }} as {{ type_double() }}) as net_amount,
        cast({{ from_minor_units('discount_minor') }} as {{ type_double() }}) as discount_amount,
        cast(discount_pct as {{ type_double() }}) as discount_pct,
        cast(discount_band as {{ dbt.type_string() }}) as discount_band,
        cast(discount_band_order as {{ dbt.type_int() }}) as discount_band_order,
        cast(is_above_policy as {{ dbt.type_boolean() }}) as is_above_policy,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        cast(rate_to_reporting as {{ type_double() }}) as rate_to_reporting,
        cast(
            {{ from_minor_units('list_reporting_minor') }} as {{ type_double() }}
        ) as list_amount_reporting,
        cast(
            {{ from_minor_units('net_reporting_minor') }} as {{ type_double() }}
        ) as net_amount_reporting,
        cast(
            {{ from_minor_units('discount_reporting_minor') }} as {{ type_double() }}
        ) as discount_amount_reporting,
        cast(
            cast(won_cycle_seconds as {{ type_double() }}) / 86400.0 as {{ type_double() }}
        ) as won_cycle_days
    from deals
)

select * from final
