-- Quote-to-signature time per source system that records contracts and deal region, split
-- into its two segments (last quote sent -> contract sent, contract sent -> signed) over
-- signed contracts; the bottleneck is the segment with the longer median. A region with
-- fewer signed contracts than var min_group_size is flagged, without bottleneck or rank.
with contracts as (
    select * from {{ ref('int_contracts_timed') }}
),

aggregated as (
    select
        source_system,
        coalesce(region, 'unknown') as region,
        count(*) as contracts_sent,
        count(signed_at) as contracts_signed,
        count(quote_to_signature_seconds) as signed_after_quote,
        {{ percentile_days(
            'case when signed_at is not null then quote_to_contract_seconds end', 0.5
        ) }} as median_quote_to_contract_days,
        {{ percentile_days('signature_seconds', 0.5) }} as median_signature_days,
        {{ percentile_days('signature_seconds', 0.9) }} as p90_signature_days,
        {{ percentile_days('quote_to_signature_seconds', 0.5) }}
            as median_quote_to_signature_days,
        {{ percentile_days('quote_to_signature_seconds', 0.9) }}
            as p90_quote_to_signature_days
    from contracts
    group by source_system, coalesce(region, 'unknown')
),

guarded as (
    select
        *,
        contracts_signed < {{ var('min_group_size') }} as is_below_min_group_size
    from aggregated
),

ranked as (
    select
        *,
        case
            when not is_below_min_group_size
                then rank() over (
                    partition by source_system, is_below_min_group_size
                    order by median_signature_days desc
                )
        end as slowest_signature_rank
    from guarded
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(contracts_sent as {{ dbt.type_bigint() }}) as contracts_sent,
        cast(contracts_signed as {{ dbt.type_bigint() }}) as contracts_signed,
        cast(signed_after_quote as {{ dbt.type_bigint() }}) as signed_after_quote,
        cast(median_quote_to_contract_days as {{ type_double() }})
            as median_quote_to_contract_days,
        cast(median_signature_days as {{ type_double() }}) as median_signature_days,
        cast(p90_signature_days as {{ type_double() }}) as p90_signature_days,
        cast(median_quote_to_signature_days as {{ type_double() }})
            as median_quote_to_signature_days,
        cast(p90_quote_to_signature_days as {{ type_double() }})
            as p90_quote_to_signature_days,
        cast(
            case
                when is_below_min_group_size then null
                when
                    median_quote_to_contract_days is null
                    or median_signature_days >= median_quote_to_contract_days
                    then 'contract sent -> signed'
                else 'quote sent -> contract sent'
            end as {{ dbt.type_string() }}
        ) as bottleneck_segment,
        cast(is_below_min_group_size as {{ dbt.type_boolean() }}) as is_below_min_group_size,
        cast(slowest_signature_rank as {{ dbt.type_int() }}) as slowest_signature_rank
    from ranked
)

select * from final
