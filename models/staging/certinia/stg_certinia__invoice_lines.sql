-- Certinia sales invoice lines (c2g__codaInvoiceLineItem__c) as canonical invoice lines: what
-- each line bills and its net value (before tax; a deal-level discount is a negative line).
-- A Certinia sales invoice line has no service period field and no subscription: both stay
-- null here. A Revenue Management schedule of the line (stg_certinia__revenue_schedules)
-- gives it its period in int_invoice_lines_unioned; without one the revenue schedule
-- recognises the line in full when its posted invoice is finalized (point in time).
with source as (
    {{ select_source_columns('certinia', 'sales_invoice_lines', [
        'id:string', 'c2g__invoice__c:string', 'c2g__line_description__c:string',
        'c2g__quantity__c:float', 'c2g__net_value__c:float', 'currency_iso_code:string',
    ]) }}
),

renamed as (
    select
        'certinia' as source_system,
        {{ make_key('certinia', 'id') }} as invoice_line_key,
        id as invoice_line_id,
        {{ make_key('certinia', 'c2g__invoice__c') }} as invoice_key,
        cast(null as {{ dbt.type_string() }}) as subscription_key,
        c2g__line_description__c as description,
        c2g__quantity__c as quantity,
        c2g__net_value__c as amount,
        upper(currency_iso_code) as currency,
        cast(null as {{ dbt.type_timestamp() }}) as service_period_start_at,
        cast(null as {{ dbt.type_timestamp() }}) as service_period_end_at
    from source
),

final as (
    {{ select_canonical('invoice_lines') }}
)

select * from final
