-- Lead conversion by cohort. One row per (source_system, cohort_month): the month the leads
-- were created. Status as at the as-of instant: converted when the converting deal was
-- created at or before as_of, disqualified when disqualified at or before as_of, converted
-- without a deal (a Salesforce lead converted to an account / contact only) when converted at
-- or before as_of, else open.
-- conversion_rate = converted / created (all leads of the cohort, open ones included, so a
-- young cohort's rate is still rising: see leads_open).
with leads as (
    select * from {{ ref('int_leads_classified') }}
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

leads_at_as_of as (
    select
        leads.source_system,
        leads.lead_key,
        leads.created_at,
        leads.converted_at,
        cast({{ dbt.date_trunc('month', 'leads.created_at') }} as date) as cohort_month,
        case
            when leads.lead_status = 'converted' and leads.converted_at <= as_of.as_of
                then 'converted'
            when leads.lead_status = 'disqualified' and leads.disqualified_at <= as_of.as_of
                then 'disqualified'
            when
                leads.lead_status = 'converted_without_deal'
                and leads.converted_at <= as_of.as_of
                then 'converted_without_deal'
            else 'open'
        end as status_at_as_of
    from leads
    inner join as_of
        on leads.source_system = as_of.source_system
    where leads.created_at <= as_of.as_of
),

measured as (
    select
        *,
        case
            when status_at_as_of = 'converted'
                then {{ days_between('created_at', 'converted_at') }}
        end as days_to_convert
    from leads_at_as_of
),

aggregated as (
    select
        source_system,
        cohort_month,
        count(*) as leads_created,
        sum(case when status_at_as_of = 'converted' then 1 else 0 end) as leads_converted,
        sum(case when status_at_as_of = 'disqualified' then 1 else 0 end)
            as leads_disqualified,
        sum(case when status_at_as_of = 'converted_without_deal' then 1 else 0 end)
            as leads_converted_without_deal,
        sum(case when status_at_as_of = 'open' then 1 else 0 end) as leads_open,
        {{ median('days_to_convert') }} as median_days_to_convert,
        {{ percentile_cont('days_to_convert', 0.9) }} as p90_days_to_convert
    from measured
    group by source_system, cohort_month
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(cohort_month as date) as cohort_month,
        cast(leads_created as {{ dbt.type_bigint() }}) as leads_created,
        cast(leads_converted as {{ dbt.type_bigint() }}) as leads_converted,
        cast(leads_disqualified as {{ dbt.type_bigint() }}) as leads_disqualified,
        cast(leads_converted_without_deal as {{ dbt.type_bigint() }})
            as leads_converted_without_deal,
        cast(leads_open as {{ dbt.type_bigint() }}) as leads_open,
        cast(
            cast(leads_converted as {{ type_double() }}) / leads_created
            as {{ type_double() }}
        ) as conversion_rate,
        cast(median_days_to_convert as {{ type_double() }}) as median_days_to_convert,
        cast(p90_days_to_convert as {{ type_double() }}) as p90_days_to_convert
    from aggregated
)

select * from final
