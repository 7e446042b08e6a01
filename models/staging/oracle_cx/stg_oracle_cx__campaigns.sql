-- Marketing campaigns (/campaigns): name, type (CampaignTypeCode) and status as Oracle CX
-- Sales names them.
with source as (
    {{ select_source_columns('oracle_cx', 'campaigns', [
        'campaign_id:bigint', 'campaign_name:string', 'campaign_type_code:string',
        'status_code:string', 'creation_date:timestamptz', 'last_update_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'oracle_cx' as source_system,
        {{ make_key('oracle_cx', 'campaign_id') }} as campaign_key,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        campaign_name,
        nullif(trim(campaign_type_code), '') as campaign_type,
        nullif(trim(status_code), '') as status,
        {{ to_utc_timestamp('creation_date') }} as created_at,
        {{ to_utc_timestamp('last_update_date') }} as updated_at
    from source
),

final as (
    {{ select_canonical('campaigns') }}
)

select * from final
