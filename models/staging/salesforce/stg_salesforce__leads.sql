-- Leads. A converted lead names its opportunity (ConvertedOpportunityId) and account; a lead
-- in one of the statuses of var salesforce_disqualified_lead_statuses (default the standard
-- 'Closed - Not Converted') is closed without conversion (is_archived). ConvertedDate is a
-- date only: the conversion time used downstream is the opportunity's CreatedDate. A lead
-- converted to an account / contact without an opportunity (IsConverted, no
-- ConvertedOpportunityId) is_converted with a null converted_deal_key: not disqualified.
{%- set disqualified = var(
    'salesforce_disqualified_lead_statuses', ['Closed - Not Converted']
) %}
{%- set disqualified_list = "('" ~ disqualified | join("', '") ~ "')" %}
with source as (
    {{ select_source_columns('salesforce', 'leads', [
        'id:string', 'company:string', 'status:string', 'lead_source:string',
        'owner_id:string', 'is_converted:boolean', 'converted_opportunity_id:string',
        'converted_account_id:string', 'converted_contact_id:string',
        'created_date:timestamptz', 'last_modified_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as lead_key,
        id as lead_id,
        company as title,
        {{ make_key('salesforce', 'owner_id') }} as owner_user_key,
        {{ make_key('salesforce', 'converted_contact_id') }} as person_key,
        {{ make_key('salesforce', 'converted_account_id') }} as account_key,
        lead_source,
        coalesce(is_converted, false)
        or coalesce(status in {{ disqualified_list }}, false) as is_archived,
        -- the standard Lead has no amount
        cast(null as {{ type_double() }}) as value,
        cast(null as {{ dbt.type_string() }}) as currency,
        {{ to_utc_timestamp('created_date') }} as created_at,
        {{ to_utc_timestamp('last_modified_date') }} as updated_at,
        case
            when coalesce(is_converted, false)
                then {{ make_key('salesforce', "nullif(trim(converted_opportunity_id), '')") }}
        end as converted_deal_key,
        -- converted to an account / contact, with or without an opportunity
        coalesce(is_converted, false) as is_converted,
        -- the standard Lead has no disqualification reason field (only Status values)
        cast(null as {{ dbt.type_string() }}) as disqualified_reason
    from source
),

final as (
    {{ select_canonical('leads') }}
)

select * from final
