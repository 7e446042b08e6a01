-- Campaign members (CampaignMember): a lead (LeadId) or a contact (ContactId) in a campaign;
-- a converted lead's member keeps its LeadId and gets the contact too. Status as the
-- campaign names it (e.g. Sent, Responded); HasResponded from the org's responded statuses.
with source as (
    {{ select_source_columns('salesforce', 'campaign_members', [
        'id:string', 'campaign_id:string', 'lead_id:string', 'contact_id:string',
        'status:string', 'has_responded:boolean', 'created_date:timestamptz',
        'system_modstamp:timestamptz', 'is_deleted:boolean',
    ]) }}
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as campaign_member_key,
        id as campaign_member_id,
        {{ make_key('salesforce', 'campaign_id') }} as campaign_key,
        {{ make_key('salesforce', 'lead_id') }} as lead_key,
        {{ make_key('salesforce', 'contact_id') }} as person_key,
        nullif(trim(status), '') as member_status,
        coalesce(has_responded, false) as has_responded,
        {{ to_utc_timestamp('created_date') }} as created_at,
        {{ to_utc_timestamp('system_modstamp') }} as updated_at
    from source
    where not coalesce(is_deleted, false)
),

final as (
    {{ select_canonical('campaign_members') }}
)

select * from final
