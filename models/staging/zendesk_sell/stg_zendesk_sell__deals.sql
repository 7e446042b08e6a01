-- Deals from raw deal_stage_snapshots (one row per deal and observed stage entry, the deal as
-- last read in that stage; see docs/zendesk-sell-history.md). The current deal is its latest
-- snapshot. Zendesk Sell moves a won or lost deal into its pipeline's Won / Lost stage (a deal
-- that never qualified into its Unqualified stage: lost, for its unqualified reason), so the
-- canonical stage_key is the last open stage a load observed (null when no load saw the deal
-- open), as a Pipedrive deal keeps its stage when it is won; status, won_at and lost_at come
-- from the stage category and last_stage_change_at. stage_category, stage_pipeline_id and
-- loss_reason_name were resolved by the loader (staging does no joins).
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
with source as (
    {{ select_source_columns('zendesk_sell', 'deal_stage_snapshots', [
        'snapshot_id:string', 'id:bigint', 'name:string', 'owner_id:bigint',
        'contact_id:bigint', 'stage_id:bigint', 'stage_category:string',
        'stage_pipeline_id:bigint', 'value:float', 'currency:string',
        'last_stage_change_at:timestamptz', 'loss_reason_name:string',
        'unqualified_reason_name:string',
        'estimated_close_date:string', 'created_at:timestamptz', 'updated_at:timestamptz',
        'custom_fields__region:string',
    ]) }}
),

snapshots as (
    select
        *,
        case lower(stage_category)
            when 'unqualified' then 'lost'
            else coalesce(lower(stage_category), '')
        end as category,
        coalesce(lower(stage_category) = 'unqualified', false) as is_unqualified,
        coalesce(lower(stage_category) in ('won', 'lost', 'unqualified'), false) as is_outcome,
        coalesce(last_stage_change_at, created_at) as stage_entered_at
    from source
),

ranked as (
    select
        *,
        row_number() over (
            partition by id
            order by stage_entered_at desc, updated_at desc, snapshot_id desc
        ) as snapshot_rank,
        row_number() over (
            partition by id, is_outcome
            order by stage_entered_at desc, snapshot_id desc
        ) as kind_rank
    from snapshots
),

with_open_stage as (
    select
        *,
        max(case when not is_outcome and kind_rank = 1 then stage_id end)
            over (partition by id)
            as last_open_stage_id
    from ranked
),

current_deals as (
    select *
    from with_open_stage
    where snapshot_rank = 1
),

renamed as (
    select
        'zendesk_sell' as source_system,
        {{ make_key('zendesk_sell', 'id') }} as deal_key,
        cast(id as {{ dbt.type_string() }}) as deal_id,
        name as title,
        {{ make_key('zendesk_sell', 'owner_id') }} as owner_user_key,
        {{ make_key('zendesk_sell', 'contact_id') }} as account_key,
        cast(null as {{ dbt.type_string() }}) as person_key,
        {{ make_key('zendesk_sell', 'stage_pipeline_id') }} as pipeline_key,
        {{ make_key('zendesk_sell', 'last_open_stage_id') }} as stage_key,
        case category
            when 'won' then 'won'
            when 'lost' then 'lost'
            else 'open'
        end as status,
        value,
        upper(currency) as currency,
        nullif(trim(custom_fields__region), '') as region,
        -- the conversion is recorded on the lead (stg_zendesk_sell__leads.converted_deal_key)
        cast(null as {{ dbt.type_string() }}) as lead_key,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        case when category = 'won' then {{ to_utc_timestamp('stage_entered_at') }} end as won_at,
        case
            when category = 'lost' then {{ to_utc_timestamp('stage_entered_at') }}
        end as lost_at,
        case when is_outcome then {{ to_utc_timestamp('stage_entered_at') }} end as closed_at,
        case
            when is_unqualified then nullif(trim(unqualified_reason_name), '')
            when category = 'lost' then nullif(trim(loss_reason_name), '')
        end as lost_reason,
        {{ text_to_date("nullif(trim(estimated_close_date), '')") }} as expected_close_date,
        false as is_deleted,
        -- Zendesk Sell has no deal type and no campaign on a deal (docs/data-model.md)
        cast(null as {{ dbt.type_string() }}) as deal_type,
        cast(null as {{ dbt.type_string() }}) as campaign_key
    from current_deals
),

final as (
    {{ select_canonical('deals') }}
)

select * from final
