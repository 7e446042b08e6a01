with source as (
    {{ select_source_columns('pipedrive', 'leads', [
        'id:string', 'title:string', 'owner_id:bigint', 'person_id:bigint',
        'organization_id:bigint', 'source_name:string', 'origin:string',
        'is_archived:boolean', 'value__amount:float', 'value__currency:string',
        'add_time:timestamptz', 'update_time:timestamptz',
    ]) }}
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id') }} as lead_key,
        id as lead_id,
        title,
        {{ make_key('pipedrive', 'owner_id') }} as owner_user_key,
        {{ make_key('pipedrive', 'person_id') }} as person_key,
        {{ make_key('pipedrive', 'organization_id') }} as account_key,
        coalesce(source_name, origin) as lead_source,
        coalesce(is_archived, false) as is_archived,
        value__amount as value,
        upper(value__currency) as currency,
        {{ to_utc_timestamp('add_time') }} as created_at,
        {{ to_utc_timestamp('update_time') }} as updated_at,
        -- Pipedrive records the conversion on the deal (deal.origin_id), not on the lead
        cast(null as {{ dbt.type_string() }}) as converted_deal_key,
        -- nor does the lead say it was converted: the deal that names it does
        cast(null as {{ dbt.type_boolean() }}) as is_converted,
        -- a Pipedrive lead has no disqualification reason (it is archived or deleted)
        cast(null as {{ dbt.type_string() }}) as disqualified_reason
    from source
),

final as (
    {{ select_canonical('leads') }}
)

select * from final
