-- Open stages of each record type's sales process (UI API StageName values). A stage is the
-- pair (record type, StageName): the same name can sit in several pipelines. The closed
-- stages (Closed Won / Closed Lost) are outcomes, not stages: see the deals' status.
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
with source as (
    {{ select_source_columns('salesforce', 'stage_picklist_values', [
        'record_type_id:string', 'value:string', 'sort_order:int',
        'attributes__closed:boolean',
    ]) }}
),

open_stages as (
    select *
    from source
    where not coalesce(attributes__closed, false)
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', dbt.concat(['record_type_id', "':'", 'value']), 'stage') }}
            as stage_key,
        {{ dbt.concat(['record_type_id', "':'", 'value']) }} as stage_id,
        {{ make_key('salesforce', 'record_type_id') }} as pipeline_key,
        value as stage_name,
        sort_order as stage_order,
        false as is_deleted
    from open_stages
),

final as (
    {{ select_canonical('stages') }}
)

select * from final
