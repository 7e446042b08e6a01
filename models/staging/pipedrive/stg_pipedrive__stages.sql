with source as (
    {{ select_source_columns('pipedrive', 'stages', [
        'id:bigint', 'name:string', 'pipeline_id:bigint', 'order_nr:int',
        'is_deleted:boolean',
    ]) }}
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id') }} as stage_key,
        cast(id as {{ dbt.type_string() }}) as stage_id,
        {{ make_key('pipedrive', 'pipeline_id') }} as pipeline_key,
        name as stage_name,
        order_nr as stage_order,
        coalesce(is_deleted, false) as is_deleted
    from source
),

final as (
    {{ select_canonical('stages') }}
)

select * from final
