-- Certinia Revenue Management revenue schedules (ffrr__RevenueSchedule__c) as canonical
-- revenue schedules: the period over which one sales invoice line recognises its revenue.
-- The schedule's dates are inclusive days: the period runs from the start date's midnight
-- UTC to the midnight after the end date. Basis Days = straight line over the period, the
-- rule int_revenue_recognition_sliced applies to a line with a service period.
with source as (
    {{ select_source_columns('certinia', 'revenue_schedules', [
        'id:string', 'ffrr__sales_invoice_line_item__c:string',
        'ffrr__start_date__c:string', 'ffrr__end_date__c:string',
        'ffrr__recognition_basis__c:string', 'ffrr__total_revenue__c:float',
        'currency_iso_code:string', 'created_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'certinia' as source_system,
        {{ make_key('certinia', 'id') }} as revenue_schedule_key,
        id as revenue_schedule_id,
        {{ make_key('certinia', 'ffrr__sales_invoice_line_item__c') }} as invoice_line_key,
        lower(coalesce(ffrr__recognition_basis__c, 'days')) as recognition_basis,
        ffrr__total_revenue__c as amount,
        upper(currency_iso_code) as currency,
        cast(
            {{ text_to_date("nullif(trim(ffrr__start_date__c), '')") }}
            as {{ dbt.type_timestamp() }}
        ) as service_period_start_at,
        cast(
            {{ dbt.dateadd(
                'day', 1, text_to_date("nullif(trim(ffrr__end_date__c), '')")
            ) }} as {{ dbt.type_timestamp() }}
        ) as service_period_end_at,
        {{ to_utc_timestamp('created_date') }} as created_at
    from source
),

final as (
    {{ select_canonical('revenue_schedules') }}
)

select * from final
