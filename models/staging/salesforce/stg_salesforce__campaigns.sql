-- Marketing campaigns (Campaign): name, type (the org's Type picklist, e.g. Webinar, Trade
-- Show, Email) and status as Salesforce names them.
with source as (
    {{ select_source_columns('salesforce', 'campaigns', [
        'id:string', 'name:string', 'type:string', 'status:string',
        'created_date:timestamptz', 'system_modstamp:timestamptz', 'is_deleted:boolean',
    ]) }}
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as campaign_key,
        id as campaign_id,
        name as campaign_name,
        nullif(trim(type), '') as campaign_type,
        nullif(trim(status), '') as status,
        {{ to_utc_timestamp('created_date') }} as created_at,
        {{ to_utc_timestamp('system_modstamp') }} as updated_at
    from source
    where not coalesce(is_deleted, false)
),

final as (
    {{ select_canonical('campaigns') }}
)

select * from final
