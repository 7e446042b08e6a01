with source as (
    {{ select_source_columns('pipedrive', 'pipelines', [
        'id:bigint', 'name:string', 'order_nr:int', 'is_deleted:boolean',
    ]) }}
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id') }} as pipeline_key,
        cast(id as {{ dbt.type_string() }}) as pipeline_id,
        name as pipeline_name,
        order_nr as pipeline_order,
        coalesce(is_deleted, false) as is_deleted
    from source
),

final as (
    {{ select_canonical('pipelines') }}
)

select * from final
