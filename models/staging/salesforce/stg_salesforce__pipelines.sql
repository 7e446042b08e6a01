-- Pipelines are Opportunity record types (one sales process each).
with source as (
    {{ select_source_columns('salesforce', 'record_types', [
        'id:string', 'name:string', 'is_active:boolean',
    ]) }}
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as pipeline_key,
        id as pipeline_id,
        name as pipeline_name,
        row_number() over (order by name, id) as pipeline_order,
        not coalesce(is_active, true) as is_deleted
    from source
),

final as (
    {{ select_canonical('pipelines') }}
)

select * from final
