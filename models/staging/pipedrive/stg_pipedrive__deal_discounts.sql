-- Deal-level additional discounts. The raw table is optional (absent until the first
-- discount exists): select_source_columns then yields an empty typed relation.
with source as (
    {{ select_source_columns('pipedrive', 'deal_discounts', [
        'id:string', 'deal_id:bigint', 'type:string', 'amount:float', 'description:string',
        'created_at:timestamptz',
    ]) }}
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id') }} as deal_discount_key,
        id as deal_discount_id,
        {{ make_key('pipedrive', 'deal_id') }} as deal_key,
        lower(type) as discount_type,
        amount as discount_value,
        description,
        {{ to_utc_timestamp('created_at') }} as created_at
    from source
),

final as (
    {{ select_canonical('deal_discounts') }}
)

select * from final
