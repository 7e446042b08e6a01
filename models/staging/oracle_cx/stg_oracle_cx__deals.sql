-- Opportunities, keyed by OptyId (the id Stripe metadata oracle_opty_id carries; OptyNumber
-- is only the human-readable alternate key). Pipeline = sales method, stage = sales stage.
-- Oracle stores only a close *date* (ActualCloseDate): when the opportunity was last updated
-- on that date, that update is the close and gives the instant; otherwise 00:00 UTC of it.
-- The lead link lives on the lead (stg_oracle_cx__leads.converted_deal_key). campaign_key is
-- the primary campaign the loader resolved from OpportunityCampaigns (largest revenue share).
with source as (
    {{ select_source_columns('oracle_cx', 'opportunities', [
        'opty_id:bigint', 'name:string', 'owner_resource_party_id:bigint',
        'target_party_id:bigint', 'primary_contact_party_id:bigint',
        'sales_method_id:bigint', 'sales_stage_id:bigint', 'status_code:string',
        'revenue:float', 'currency_code:string', 'region_c:string',
        'creation_date:timestamptz', 'last_update_date:timestamptz',
        'effective_date:string', 'actual_close_date:string', 'reason_won_lost_code:string',
        'primary_campaign_id:bigint',
    ]) }}
),

typed as (
    select
        *,
        lower(status_code) as status,
        {{ to_utc_timestamp('last_update_date') }} as updated_at,
        {{ text_to_date("nullif(trim(actual_close_date), '')") }} as close_date
    from source
),

closing as (
    select
        *,
        case
            when close_date is null then null
            when cast(updated_at as date) = close_date then updated_at
            else cast(close_date as {{ dbt.type_timestamp() }})
        end as closed_at
    from typed
),

renamed as (
    select
        'oracle_cx' as source_system,
        {{ make_key('oracle_cx', 'opty_id') }} as deal_key,
        cast(opty_id as {{ dbt.type_string() }}) as deal_id,
        name as title,
        {{ make_key('oracle_cx', 'owner_resource_party_id') }} as owner_user_key,
        {{ make_key('oracle_cx', 'target_party_id') }} as account_key,
        {{ make_key('oracle_cx', 'primary_contact_party_id') }} as person_key,
        {{ make_key('oracle_cx', 'sales_method_id') }} as pipeline_key,
        {{ make_key('oracle_cx', 'sales_stage_id') }} as stage_key,
        status,
        revenue as value,
        upper(currency_code) as currency,
        nullif(trim(region_c), '') as region,
        cast(null as {{ dbt.type_string() }}) as lead_key,
        {{ to_utc_timestamp('creation_date') }} as created_at,
        updated_at,
        case when status = 'won' then closed_at end as won_at,
        case when status = 'lost' then closed_at end as lost_at,
        case when status in ('won', 'lost') then closed_at end as closed_at,
        case
            when status = 'lost' then nullif(trim(reason_won_lost_code), '')
        end as lost_reason,
        {{ text_to_date("nullif(trim(effective_date), '')") }} as expected_close_date,
        false as is_deleted,
        -- not loaded: see docs/data-model.md (campaigns, product category, deal type)
        cast(null as {{ dbt.type_string() }}) as deal_type,
        {{ make_key('oracle_cx', 'primary_campaign_id') }} as campaign_key
    from closing
),

final as (
    {{ select_canonical('deals') }}
)

select * from final
