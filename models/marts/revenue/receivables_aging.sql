-- Aged receivables at the as-of instant: one row per customer with at least one invoice open
-- then (finalized, not void, not paid, not marked uncollectible). Open amount = total minus
-- the successful payments received by as_of, in var reporting_currency, split by days past
-- due: current (not yet due), 1-30, 31-60, 61-90, 90+.
with invoices as (
    select * from {{ ref('int_invoices_settled') }}
    where is_open_at_as_of
),

customer_aging as (
    select
        customer_key,
        source_system,
        max(customer_name) as customer_name,
        coalesce(max(account_region), min(region)) as region,
        max(as_of) as as_of,
        count(*) as open_invoices,
        sum(case when days_past_due > 0 then 1 else 0 end) as overdue_invoices,
        {{ unless_fx_missing('sum(open_reporting_minor)', 'rate_to_reporting is null') }}
            as open_reporting_minor,
        {%- for bucket, column in [
            ('current', 'current'), ('1-30', 'days_1_30'), ('31-60', 'days_31_60'),
            ('61-90', 'days_61_90'), ('90+', 'days_over_90'),
        ] %}
            {{ unless_fx_missing(
                "sum(case when aging_bucket = '" ~ bucket ~ "' then open_reporting_minor"
                ~ " else 0 end)",
                "aging_bucket = '" ~ bucket ~ "' and rate_to_reporting is null"
            ) }} as {{ column }}_reporting_minor,
        {%- endfor %}
        max(days_past_due) as max_days_past_due,
        min(due_at) as oldest_due_at
    from invoices
    group by customer_key, source_system
),

final as (
    select
        cast(customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(open_invoices as {{ dbt.type_bigint() }}) as open_invoices,
        cast(overdue_invoices as {{ dbt.type_bigint() }}) as overdue_invoices,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        {%- for column in ['open', 'current', 'days_1_30', 'days_31_60', 'days_61_90',
                           'days_over_90'] %}
            cast(
                {{ from_minor_units(column ~ '_reporting_minor') }} as {{ type_double() }}
            ) as {{ 'amount_open' if column == 'open' else column }}_reporting,
        {%- endfor %}
        cast(max_days_past_due as {{ type_double() }}) as max_days_past_due,
        cast(oldest_due_at as {{ dbt.type_timestamp() }}) as oldest_due_at,
        cast(as_of as {{ dbt.type_timestamp() }}) as as_of
    from customer_aging
)

select * from final
