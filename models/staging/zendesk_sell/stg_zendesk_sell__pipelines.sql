-- Zendesk Sell pipelines have no position: pipeline_order follows the ids.
with source as (
    {{ select_source_columns('zendesk_sell', 'pipelines', [
        'id:bigint', 'name:string', 'disabled:boolean',
    ]) }}
),

renamed as (
    select
        'zendesk_sell' as source_system,
        {{ make_key('zendesk_sell', 'id') }} as pipeline_key,
        cast(id as {{ dbt.type_string() }}) as pipeline_id,
        name as pipeline_name,
        row_number() over (order by id) as pipeline_order,
        false as is_deleted
    from source
),

final as (
    {{ select_canonical('pipelines') }}
)

select * from final
