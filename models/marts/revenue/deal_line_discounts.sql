-- One row per product line of a non-deleted deal: the line's own discount (before deal-level
-- discounts), in the deal currency and in var reporting_currency.
with lines as (
    select * from {{ ref('int_deal_lines_unioned') }}
),

deals as (
    select * from {{ ref('int_deals_discounted') }}
),

line_amounts as (
    select
        lines.deal_line_key,
        lines.deal_line_id,
        lines.source_system,
        lines.deal_key,
        lines.product_key,
        lines.product_name,
        lines.quantity,
        lines.unit_price,
        lines.currency,
        lines.created_at,
        deals.owner_user_key,
        deals.status,
        deals.rate_to_reporting,
        {{ to_minor_units('lines.list_amount') }} as list_minor,
        {{ to_minor_units('lines.net_amount') }} as net_minor
    from lines
    inner join deals
        on
            lines.deal_key = deals.deal_key
            and lines.source_system = deals.source_system
),

final as (
    select
        cast(deal_line_key as {{ dbt.type_string() }}) as deal_line_key,
        cast(deal_line_id as {{ dbt.type_string() }}) as deal_line_id,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(deal_key as {{ dbt.type_string() }}) as deal_key,
        cast(owner_user_key as {{ dbt.type_string() }}) as owner_key,
        cast(status as {{ dbt.type_string() }}) as outcome,
        cast(product_key as {{ dbt.type_string() }}) as product_key,
        cast(product_name as {{ dbt.type_string() }}) as product_name,
        cast(quantity as {{ type_double() }}) as quantity,
        cast(unit_price as {{ type_double() }}) as unit_price,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast({{ from_minor_units('list_minor') }} as {{ type_double() }}) as list_amount,
        cast({{ from_minor_units('net_minor') }} as {{ type_double() }}) as net_amount,
        cast(
            {{ from_minor_units('list_minor - net_minor') }} as {{ type_double() }}
        ) as discount_amount,
        cast(
            case
                when list_minor > 0
                    then 100.0 * {{ safe_ratio('list_minor - net_minor', 'list_minor') }}
            end as {{ type_double() }}
        ) as discount_pct,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        cast(
            {{ from_minor_units(convert_minor_units('list_minor', 'rate_to_reporting')) }}
            as {{ type_double() }}
        ) as list_amount_reporting,
        cast(
            {{ from_minor_units(
                convert_minor_units('list_minor', 'rate_to_reporting')
                ~ ' - ' ~ convert_minor_units('net_minor', 'rate_to_reporting')
            ) }} as {{ type_double() }}
        ) as discount_amount_reporting,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at
    from line_amounts
)

select * from final
