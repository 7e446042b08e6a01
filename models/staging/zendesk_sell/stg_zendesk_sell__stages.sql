-- Open stages only: Zendesk Sell's Won, Lost and Unqualified stages (category won / lost /
-- unqualified) are outcomes in the canonical model (deal status), not stages a deal enters on
-- its way.
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
with source as (
    {{ select_source_columns('zendesk_sell', 'stages', [
        'id:bigint', 'name:string', 'pipeline_id:bigint', 'position:int', 'category:string',
    ]) }}
),

open_stages as (
    select *
    from source
    where coalesce(lower(category), '') not in ('won', 'lost', 'unqualified')
),

renamed as (
    select
        'zendesk_sell' as source_system,
        {{ make_key('zendesk_sell', 'id') }} as stage_key,
        cast(id as {{ dbt.type_string() }}) as stage_id,
        {{ make_key('zendesk_sell', 'pipeline_id') }} as pipeline_key,
        name as stage_name,
        position as stage_order,
        false as is_deleted
    from open_stages
),

final as (
    {{ select_canonical('stages') }}
)

select * from final
