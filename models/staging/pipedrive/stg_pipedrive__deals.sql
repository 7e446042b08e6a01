with source as (
    {{ select_source_columns('pipedrive', 'deals', [
        'id:bigint', 'title:string', 'owner_id:bigint', 'person_id:bigint', 'org_id:bigint',
        'pipeline_id:bigint', 'stage_id:bigint', 'value:float', 'currency:string',
        'status:string', 'add_time:timestamptz', 'update_time:timestamptz',
        'won_time:timestamptz', 'lost_time:timestamptz', 'close_time:timestamptz',
        'lost_reason:string', 'expected_close_date:string', 'source_lead_id:string',
        'is_deleted:boolean', 'custom_fields__region:string',
    ]) }}
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id') }} as deal_key,
        cast(id as {{ dbt.type_string() }}) as deal_id,
        title,
        {{ make_key('pipedrive', 'owner_id') }} as owner_user_key,
        {{ make_key('pipedrive', 'org_id') }} as account_key,
        {{ make_key('pipedrive', 'person_id') }} as person_key,
        {{ make_key('pipedrive', 'pipeline_id') }} as pipeline_key,
        {{ make_key('pipedrive', 'stage_id') }} as stage_key,
        lower(status) as status,
        value,
        upper(currency) as currency,
        nullif(trim(custom_fields__region), '') as region,
        {{ make_key('pipedrive', "nullif(trim(source_lead_id), '')") }} as lead_key,
        {{ to_utc_timestamp('add_time') }} as created_at,
        {{ to_utc_timestamp('update_time') }} as updated_at,
        {{ to_utc_timestamp('won_time') }} as won_at,
        {{ to_utc_timestamp('lost_time') }} as lost_at,
        {{ to_utc_timestamp('close_time') }} as closed_at,
        nullif(trim(lost_reason), '') as lost_reason,
        {{ text_to_date("nullif(trim(expected_close_date), '')") }} as expected_close_date,
        coalesce(is_deleted, false) or coalesce(lower(status) = 'deleted', false) as is_deleted,
        -- Pipedrive has no deal type and no campaign on a deal (docs/data-model.md)
        cast(null as {{ dbt.type_string() }}) as deal_type,
        cast(null as {{ dbt.type_string() }}) as campaign_key
    from source
),

final as (
    {{ select_canonical('deals') }}
)

select * from final
