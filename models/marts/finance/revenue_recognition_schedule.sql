-- The revenue recognition schedule: one row per (invoice line, calendar month) of every
-- finalized, non-void invoice of every finance system (int_revenue_recognition_sliced):
-- a ratable line (with a service period) straight line by the second over its period, a
-- point-in-time line (none) in full at the invoice's finalization. is_recognized = the slice
-- ended by the system's as-of instant; the rest is deferred revenue still to recognise.
with slices as (
    select * from {{ ref('int_revenue_recognition_sliced') }}
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

final as (
    select
        cast(
            {{ dbt.concat([
                'slices.invoice_line_key', "':'",
                dbt.cast('slices.month_start', dbt.type_string()),
            ]) }} as {{ dbt.type_string() }}
        ) as schedule_key,
        cast(slices.invoice_line_key as {{ dbt.type_string() }}) as invoice_line_key,
        cast(slices.invoice_line_id as {{ dbt.type_string() }}) as invoice_line_id,
        cast(slices.invoice_key as {{ dbt.type_string() }}) as invoice_key,
        cast(slices.invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(slices.source_system as {{ dbt.type_string() }}) as source_system,
        cast(slices.deal_key as {{ dbt.type_string() }}) as deal_key,
        cast(slices.subscription_key as {{ dbt.type_string() }}) as subscription_key,
        cast(slices.recognition_method as {{ dbt.type_string() }}) as recognition_method,
        cast(slices.month_start as date) as month_start,
        cast(slices.slice_start_at as {{ dbt.type_timestamp() }}) as slice_start_at,
        cast(slices.slice_end_at as {{ dbt.type_timestamp() }}) as slice_end_at,
        cast(slices.service_period_start_at as {{ dbt.type_timestamp() }})
            as service_period_start_at,
        cast(slices.service_period_end_at as {{ dbt.type_timestamp() }})
            as service_period_end_at,
        cast(slices.invoice_finalized_at as {{ dbt.type_timestamp() }}) as invoice_finalized_at,
        cast(slices.slice_seconds as {{ type_double() }}) / 86400.0 as service_days,
        cast({{ from_minor_units('slices.allocated_minor') }} as {{ type_double() }})
            as line_amount,
        cast({{ from_minor_units('slices.recognized_minor') }} as {{ type_double() }})
            as recognized_amount,
        cast(slices.currency as {{ dbt.type_string() }}) as currency,
        cast({{ from_minor_units('slices.recognized_reporting_minor') }} as {{ type_double() }})
            as recognized_reporting,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        cast(coalesce(slices.slice_end_at <= as_of.as_of, false) as {{ dbt.type_boolean() }})
            as is_recognized,
        cast(slices.is_period_missing as {{ dbt.type_boolean() }}) as is_period_missing
    from slices
    left join as_of
        on slices.source_system = as_of.source_system
)

select * from final
