-- Lead campaign memberships (the LeadCampaigns child of a lead, expanded on the leads list):
-- a lead in a campaign since CreationDate. Oracle records memberships of leads only here (no
-- contact), and no member status or response flag: both are null. PrimaryFlag (the lead's
-- primary campaign) stays in raw: a lead's campaign is its earliest membership
-- (int_lead_campaigns_resolved), as for every system.
with source as (
    {{ select_source_columns('oracle_cx', 'lead_campaigns', [
        'lead_campaign_id:bigint', 'lead_id:bigint', 'campaign_id:bigint',
        'creation_date:timestamptz', 'last_update_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'oracle_cx' as source_system,
        {{ make_key('oracle_cx', 'lead_campaign_id') }} as campaign_member_key,
        cast(lead_campaign_id as {{ dbt.type_string() }}) as campaign_member_id,
        {{ make_key('oracle_cx', 'campaign_id') }} as campaign_key,
        {{ make_key('oracle_cx', 'lead_id') }} as lead_key,
        cast(null as {{ dbt.type_string() }}) as person_key,
        cast(null as {{ dbt.type_string() }}) as member_status,
        cast(null as {{ dbt.type_boolean() }}) as has_responded,
        {{ to_utc_timestamp('creation_date') }} as created_at,
        {{ to_utc_timestamp('last_update_date') }} as updated_at
    from source
),

final as (
    {{ select_canonical('campaign_members') }}
)

select * from final
