-- Sales methods play the role of pipelines: every sales stage belongs to one sales method.
-- Oracle has no display order for sales methods: the default method comes first, then by name.
with source as (
    {{ select_source_columns('oracle_cx', 'sales_methods', [
        'sales_method_id:bigint', 'name:string', 'default_flag:boolean', 'deleted_flag:boolean',
    ]) }}
),

renamed as (
    select
        'oracle_cx' as source_system,
        {{ make_key('oracle_cx', 'sales_method_id') }} as pipeline_key,
        cast(sales_method_id as {{ dbt.type_string() }}) as pipeline_id,
        name as pipeline_name,
        row_number() over (
            order by coalesce(default_flag, false) desc, name asc, sales_method_id asc
        ) as pipeline_order,
        coalesce(deleted_flag, false) as is_deleted
    from source
),

final as (
    {{ select_canonical('pipelines') }}
)

select * from final
