-- Leads with the conversion the loader attached (converted_deal_id from /v2/lead_conversions)
-- and their source's name. A Zendesk Sell lead is a person record: no value, no account until
-- it is converted. disqualified_reason: the name of the unqualified reason (resolved by the
-- loader from /v2/lead_unqualified_reasons) of a lead with status Unqualified.
with source as (
    {{ select_source_columns('zendesk_sell', 'leads', [
        'id:bigint', 'first_name:string', 'last_name:string', 'organization_name:string',
        'description:string', 'status:string', 'owner_id:bigint', 'source_name:string',
        'converted_deal_id:bigint', 'created_at:timestamptz', 'updated_at:timestamptz',
        'unqualified_reason_name:string',
    ]) }}
),

renamed as (
    select
        'zendesk_sell' as source_system,
        {{ make_key('zendesk_sell', 'id') }} as lead_key,
        cast(id as {{ dbt.type_string() }}) as lead_id,
        coalesce(
            nullif(trim(description), ''),
            nullif(trim(organization_name), ''),
            {{ pseudonymise(
                "trim(" ~ dbt.concat(["coalesce(first_name, '')", "' '", "coalesce(last_name, '')"])
                ~ ")"
            ) }}
        ) as title,
        {{ make_key('zendesk_sell', 'owner_id') }} as owner_user_key,
        cast(null as {{ dbt.type_string() }}) as person_key,
        cast(null as {{ dbt.type_string() }}) as account_key,
        source_name as lead_source,
        coalesce(lower(status) = 'unqualified', false) or converted_deal_id is not null
            as is_archived,
        cast(null as {{ type_double() }}) as value,
        cast(null as {{ dbt.type_string() }}) as currency,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ make_key('zendesk_sell', 'converted_deal_id') }} as converted_deal_key,
        converted_deal_id is not null as is_converted,
        case
            when lower(status) = 'unqualified' then nullif(trim(unqualified_reason_name), '')
        end as disqualified_reason
    from source
),

final as (
    {{ select_canonical('leads') }}
)

select * from final
