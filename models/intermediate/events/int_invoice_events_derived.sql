-- Invoice family for invoices linked to a deal: Invoice Created, Invoice Sent (finalized),
-- Invoice Voided, Invoice Paid. Unlinked invoices are not in the log.
with invoices as (
    select * from {{ ref('int_invoices_linked') }}
    where deal_key is not null
),

invoice_created as (
    select
        deal_key as case_id,
        'Invoice Created' as activity,
        created_at as event_at,
        'invoice' as object_type,
        invoice_key as object_id,
        source_system,
        invoice_id as source_row_id,
        cast(null as {{ dbt.type_string() }}) as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        total as amount,
        currency
    from invoices
    where created_at is not null
),

invoice_sent as (
    select
        deal_key as case_id,
        'Invoice Sent' as activity,
        finalized_at as event_at,
        'invoice' as object_type,
        invoice_key as object_id,
        source_system,
        invoice_id as source_row_id,
        cast(null as {{ dbt.type_string() }}) as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        total as amount,
        currency
    from invoices
    where finalized_at is not null
),

invoice_voided as (
    select
        deal_key as case_id,
        'Invoice Voided' as activity,
        voided_at as event_at,
        'invoice' as object_type,
        invoice_key as object_id,
        source_system,
        invoice_id as source_row_id,
        cast(null as {{ dbt.type_string() }}) as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        total as amount,
        currency
    from invoices
    where voided_at is not null
),

invoice_paid as (
    select
        deal_key as case_id,
        'Invoice Paid' as activity,
        paid_at as event_at,
        'invoice' as object_type,
        invoice_key as object_id,
        source_system,
        invoice_id as source_row_id,
        cast(null as {{ dbt.type_string() }}) as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        amount_paid as amount,
        currency
    from invoices
    where paid_at is not null
),

final as (
    select * from invoice_created
    union all
    select * from invoice_sent
    union all
    select * from invoice_voided
    union all
    select * from invoice_paid
)

select * from final
