-- Conversion and win rate by lead source at the as-of instant. One row per (source_system,
-- lead_source), plus source_system 'all' rows summing every system per lead_source (the
-- source as each system names it). A missing source is '(none)': deals that came from no lead
-- and leads or deals whose lead has no source.
-- conversion_rate = leads converted into a deal by as_of / leads created by as_of.
-- win_rate = won / (won + lost) of the deals created by as_of: open deals are not in the
-- denominator.
with leads as (
    select * from {{ ref('int_leads_classified') }}
),

cases as (
    select * from {{ ref('cases') }}
    where case_type = 'deal'
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

leads_at_as_of as (
    select
        leads.source_system,
        coalesce(leads.lead_source, '(none)') as lead_source,
        case
            when leads.lead_status = 'converted' and leads.converted_at <= as_of.as_of
                then 1
            else 0
        end as is_converted
    from leads
    inner join as_of
        on leads.source_system = as_of.source_system
    where leads.created_at <= as_of.as_of
),

deals_at_as_of as (
    select
        cases.source_system,
        coalesce(cases.lead_source, '(none)') as lead_source,
        {{ outcome_at_as_of() }} as outcome_at_as_of
    from cases
    inner join as_of
        on cases.source_system = as_of.source_system
    where {{ created_by_as_of() }}
),

{{ conversion_and_outcome_counts('lead_source') }},

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(lead_source as {{ dbt.type_string() }}) as lead_source,
        {{ conversion_columns() }},
        {{ win_rate_columns() }},
        {{ below_min_group_size('leads_count') }} as is_conversion_below_min_group_size,
        {{ below_min_group_size('won_count + lost_count') }} as is_win_rate_below_min_group_size
    from combined
)

select * from final
