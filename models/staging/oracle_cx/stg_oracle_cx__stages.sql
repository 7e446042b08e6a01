-- Sales stages of every sales method (StgId is unique across methods).
with source as (
    {{ select_source_columns('oracle_cx', 'sales_stages', [
        'stg_id:bigint', 'name:string', 'sales_method_id:bigint', 'stg_order:int',
        'deleted_flag:boolean',
    ]) }}
),

renamed as (
    select
        'oracle_cx' as source_system,
        {{ make_key('oracle_cx', 'stg_id') }} as stage_key,
        cast(stg_id as {{ dbt.type_string() }}) as stage_id,
        {{ make_key('oracle_cx', 'sales_method_id') }} as pipeline_key,
        name as stage_name,
        stg_order as stage_order,
        coalesce(deleted_flag, false) as is_deleted
    from source
),

final as (
    {{ select_canonical('stages') }}
)

select * from final
