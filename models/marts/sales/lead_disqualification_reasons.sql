-- Disqualified leads by reason per lead source at the as-of instant. One row per
-- (source_system, lead_source, disqualified_reason). A lead counts when it was disqualified
-- (archived without a conversion, int_leads_classified) at or before its system's as_of.
-- disqualified_reason is the source's own (Zendesk Sell lead unqualified reason, Oracle CX
-- RetireReasonCode); '(unknown)' when the system records none (Pipedrive, Salesforce) or the
-- lead has none. reason_share = leads of the reason / disqualified leads of the source.
with leads as (
    select * from {{ ref('int_leads_classified') }}
    where lead_status = 'disqualified'
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

disqualified_at_as_of as (
    select
        leads.source_system,
        coalesce(leads.lead_source, '(none)') as lead_source,
        coalesce(leads.disqualified_reason, '(unknown)') as disqualified_reason
    from leads
    inner join as_of
        on leads.source_system = as_of.source_system
    where
        leads.created_at <= as_of.as_of
        and leads.disqualified_at <= as_of.as_of
),

reason_counts as (
    select
        source_system,
        lead_source,
        disqualified_reason,
        count(*) as disqualified_count
    from disqualified_at_as_of
    group by source_system, lead_source, disqualified_reason
),

source_totals as (
    select
        source_system,
        lead_source,
        sum(disqualified_count) as source_disqualified_count
    from reason_counts
    group by source_system, lead_source
),

ranked as (
    select
        reason_counts.source_system,
        reason_counts.lead_source,
        reason_counts.disqualified_reason,
        reason_counts.disqualified_count,
        source_totals.source_disqualified_count,
        rank() over (
            partition by reason_counts.source_system, reason_counts.lead_source
            order by reason_counts.disqualified_count desc
        ) as reason_rank
    from reason_counts
    inner join source_totals
        on
            reason_counts.source_system = source_totals.source_system
            and reason_counts.lead_source = source_totals.lead_source
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(lead_source as {{ dbt.type_string() }}) as lead_source,
        cast(disqualified_reason as {{ dbt.type_string() }}) as disqualified_reason,
        cast(disqualified_count as {{ dbt.type_bigint() }}) as disqualified_count,
        cast(source_disqualified_count as {{ dbt.type_bigint() }}) as source_disqualified_count,
        cast(
            cast(disqualified_count as {{ type_double() }}) / source_disqualified_count
            as {{ type_double() }}
        ) as reason_share,
        cast(reason_rank as {{ dbt.type_bigint() }}) as reason_rank,
        cast(
            source_disqualified_count < {{ var('min_group_size') }} as {{ dbt.type_boolean() }}
        ) as is_below_min_group_size
    from ranked
)

select * from final
