-- Every finance invoice with its deal link (metadata | rule | null): the base for the
-- share of invoices linked. Unlinked invoices are kept here (they are not in the event log).
with invoices as (
    select * from {{ ref('int_invoices_linked') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_ranged') }}
),

final as (
    select
        cast(invoices.invoice_key as {{ dbt.type_string() }}) as invoice_key,
        cast(invoices.invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(invoices.source_system as {{ dbt.type_string() }}) as source_system,
        cast(invoices.customer_key as {{ dbt.type_string() }}) as customer_key,
        cast(invoices.invoice_number as {{ dbt.type_string() }}) as invoice_number,
        cast(invoices.status as {{ dbt.type_string() }}) as status,
        cast(invoices.currency as {{ dbt.type_string() }}) as currency,
        cast(invoices.total as {{ type_double() }}) as total,
        cast(
            invoices.total * fx_rates.rate_to_reporting as {{ type_double() }}
        ) as total_reporting,
        cast(invoices.amount_paid as {{ type_double() }}) as amount_paid,
        cast(invoices.amount_remaining as {{ type_double() }}) as amount_remaining,
        cast(invoices.created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(invoices.due_at as {{ dbt.type_timestamp() }}) as due_at,
        cast(invoices.finalized_at as {{ dbt.type_timestamp() }}) as finalized_at,
        cast(invoices.paid_at as {{ dbt.type_timestamp() }}) as paid_at,
        cast(invoices.voided_at as {{ dbt.type_timestamp() }}) as voided_at,
        cast(invoices.crm_deal_key as {{ dbt.type_string() }}) as crm_deal_key,
        cast(invoices.deal_key as {{ dbt.type_string() }}) as deal_key,
        cast(invoices.deal_key as {{ dbt.type_string() }}) as case_id,
        cast(invoices.link_method as {{ dbt.type_string() }}) as link_method,
        cast(invoices.rule_candidates_count as {{ dbt.type_bigint() }})
            as rule_candidates_count,
        cast(invoices.deal_key is not null as {{ dbt.type_boolean() }}) as is_linked
    from invoices
    left join fx_rates
        on
            invoices.currency = fx_rates.currency_code
            and cast(invoices.created_at as date) >= fx_rates.valid_from
            and cast(invoices.created_at as date) < fx_rates.valid_to
)

select * from final
