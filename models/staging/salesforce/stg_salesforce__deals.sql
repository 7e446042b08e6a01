-- Opportunities. Status from IsClosed / IsWon; won/lost/closed at LastStageChangeDate of a
-- closed opportunity (the move into its closed stage). The stage of a closed opportunity is
-- the open stage it was closed in (LastOpenStageName, loaded by a child subquery on
-- OpportunityHistory), so it maps like any stage. Pipeline = record type (master if none).
{%- set master_record_type = "'012000000000000AAA'" %}
{%- set record_type = "coalesce(record_type_id, " ~ master_record_type ~ ")" %}
with source as (
    {{ select_source_columns('salesforce', 'opportunities', [
        'id:string', 'name:string', 'owner_id:string', 'account_id:string',
        'contact_id:string', 'record_type_id:string', 'stage_name:string',
        'last_open_stage_name:string', 'is_closed:boolean', 'is_won:boolean', 'amount:float',
        'currency_iso_code:string', 'region__c:string', 'loss_reason__c:string',
        'close_date:string', 'last_stage_change_date:timestamptz', 'created_date:timestamptz',
        'last_modified_date:timestamptz', 'is_deleted:boolean', 'type:string',
        'campaign_id:string',
    ]) }}
),

staged as (
    select
        *,
        case
            when coalesce(is_closed, false) then last_open_stage_name
            else stage_name
        end as current_open_stage_name,
        case
            when coalesce(is_won, false) then 'won'
            when coalesce(is_closed, false) then 'lost'
            else 'open'
        end as deal_status
    from source
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as deal_key,
        id as deal_id,
        name as title,
        {{ make_key('salesforce', 'owner_id') }} as owner_user_key,
        {{ make_key('salesforce', 'account_id') }} as account_key,
        {{ make_key('salesforce', 'contact_id') }} as person_key,
        {{ make_key('salesforce', record_type) }} as pipeline_key,
        {{ make_key(
            'salesforce', dbt.concat([record_type, "':'", 'current_open_stage_name']), 'stage'
        ) }} as stage_key,
        deal_status as status,
        amount as value,
        upper(currency_iso_code) as currency,
        nullif(trim(region__c), '') as region,
        -- Salesforce records the conversion on the lead (ConvertedOpportunityId)
        cast(null as {{ dbt.type_string() }}) as lead_key,
        {{ to_utc_timestamp('created_date') }} as created_at,
        {{ to_utc_timestamp('last_modified_date') }} as updated_at,
        case
            when deal_status = 'won' then {{ to_utc_timestamp('last_stage_change_date') }}
        end as won_at,
        case
            when deal_status = 'lost' then {{ to_utc_timestamp('last_stage_change_date') }}
        end as lost_at,
        case
            when deal_status <> 'open' then {{ to_utc_timestamp('last_stage_change_date') }}
        end as closed_at,
        case when deal_status = 'lost' then nullif(trim(loss_reason__c), '') end as lost_reason,
        {{ text_to_date("nullif(trim(close_date), '')") }} as expected_close_date,
        coalesce(is_deleted, false) as is_deleted,
        -- Opportunity.Type as the org names it (standard: New Customer, Existing Customer -
        -- Upgrade / Replacement / Downgrade); the primary campaign is Opportunity.CampaignId
        nullif(trim(type), '') as deal_type,
        {{ make_key('salesforce', 'campaign_id') }} as campaign_key
    from staged
),

final as (
    {{ select_canonical('deals') }}
)

select * from final
