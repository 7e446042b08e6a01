-- Sales leads. Oracle records the conversion on the lead (StatusCode CONVERTED and the
-- opportunity it became, ConvertedOpportunityId), so converted_deal_key comes from the lead.
-- Converted, retired and rejected leads are closed (is_archived).
with source as (
    {{ select_source_columns('oracle_cx', 'leads', [
        'lead_id:bigint', 'name:string', 'owner_id:bigint', 'customer_id:bigint',
        'primary_contact_id:bigint', 'channel_type:string', 'status_code:string',
        'deal_amount:float', 'currency_code:string', 'creation_date:timestamptz',
        'last_update_date:timestamptz', 'converted_opportunity_id:bigint',
        'retire_reason_code:string',
    ]) }}
),

renamed as (
    select
        'oracle_cx' as source_system,
        {{ make_key('oracle_cx', 'lead_id') }} as lead_key,
        cast(lead_id as {{ dbt.type_string() }}) as lead_id,
        name as title,
        {{ make_key('oracle_cx', 'owner_id') }} as owner_user_key,
        {{ make_key('oracle_cx', 'primary_contact_id') }} as person_key,
        {{ make_key('oracle_cx', 'customer_id') }} as account_key,
        channel_type as lead_source,
        coalesce(upper(status_code) in ('CONVERTED', 'RETIRED', 'REJECTED'), false)
            as is_archived,
        deal_amount as value,
        upper(currency_code) as currency,
        {{ to_utc_timestamp('creation_date') }} as created_at,
        {{ to_utc_timestamp('last_update_date') }} as updated_at,
        {{ make_key('oracle_cx', 'converted_opportunity_id') }} as converted_deal_key,
        coalesce(upper(status_code) = 'CONVERTED', false) as is_converted,
        -- the retire reason (lookup code) of a retired lead
        case
            when upper(status_code) = 'RETIRED' then nullif(trim(retire_reason_code), '')
        end as disqualified_reason
    from source
),

final as (
    {{ select_canonical('leads') }}
)

select * from final
