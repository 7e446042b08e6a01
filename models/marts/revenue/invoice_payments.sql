-- One row per finance invoice (linked or not, voids included): due and paid dates, days late,
-- partial payments, on-time flag, and for invoices still open at the as-of instant the days
-- past due and the aging bucket. Amounts in the invoice currency and var reporting_currency.
with invoices as (
    select * from {{ ref('int_invoices_settled') }}
),

final as (
    select
        cast(invoice_key as {{ dbt.type_string() }}) as invoice_key,
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(invoice_number as {{ dbt.type_string() }}) as invoice_number,
        cast(customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(deal_key as {{ dbt.type_string() }}) as deal_key,
        cast(deal_key is not null as {{ dbt.type_boolean() }}) as is_linked,
        cast(link_method as {{ dbt.type_string() }}) as link_method,
        cast(owner_user_key as {{ dbt.type_string() }}) as owner_key,
        cast(owner_name as {{ dbt.type_string() }}) as owner_name,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(is_void as {{ dbt.type_boolean() }}) as is_void,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast({{ from_minor_units('total_minor') }} as {{ type_double() }}) as total,
        cast({{ from_minor_units('paid_minor') }} as {{ type_double() }}) as amount_paid,
        cast({{ from_minor_units('open_minor') }} as {{ type_double() }}) as amount_open,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        cast(rate_to_reporting as {{ type_double() }}) as rate_to_reporting,
        cast(
            {{ from_minor_units('total_reporting_minor') }} as {{ type_double() }}
        ) as total_reporting,
        cast(
            {{ from_minor_units('open_reporting_minor') }} as {{ type_double() }}
        ) as amount_open_reporting,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(finalized_at as {{ dbt.type_timestamp() }}) as finalized_at,
        cast(due_at as {{ dbt.type_timestamp() }}) as due_at,
        cast(paid_at as {{ dbt.type_timestamp() }}) as paid_at,
        cast(voided_at as {{ dbt.type_timestamp() }}) as voided_at,
        cast(uncollectible_at as {{ dbt.type_timestamp() }}) as uncollectible_at,
        cast(payments_count as {{ dbt.type_bigint() }}) as payments_count,
        cast(partial_payments_count as {{ dbt.type_bigint() }}) as partial_payments_count,
        cast(first_payment_at as {{ dbt.type_timestamp() }}) as first_payment_at,
        cast(last_payment_at as {{ dbt.type_timestamp() }}) as last_payment_at,
        cast(days_late as {{ type_double() }}) as days_late,
        cast(is_paid_on_time as {{ dbt.type_boolean() }}) as is_paid_on_time,
        cast(deal_won_at as {{ dbt.type_timestamp() }}) as deal_won_at,
        cast(
            {{ days_between('deal_won_at', 'paid_at') }} as {{ type_double() }}
        ) as days_won_to_paid,
        cast(is_open_at_as_of as {{ dbt.type_boolean() }}) as is_open_at_as_of,
        cast(days_past_due as {{ type_double() }}) as days_past_due,
        cast(aging_bucket as {{ dbt.type_string() }}) as aging_bucket,
        cast(as_of as {{ dbt.type_timestamp() }}) as as_of
    from invoices
)

select * from final
