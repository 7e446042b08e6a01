-- Deal family: Deal Created, Deal Won, Deal Lost (from the deal record's timestamps).
with deals as (
    select * from {{ ref('int_deals_filtered') }}
),

deal_created as (
    select
        deal_key as case_id,
        'Deal Created' as activity,
        created_at as event_at,
        'deal' as object_type,
        deal_key as object_id,
        source_system,
        deal_id as source_row_id,
        owner_user_key as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        value as amount,
        currency
    from deals
    where created_at is not null
),

deal_won as (
    select
        deal_key as case_id,
        'Deal Won' as activity,
        won_at as event_at,
        'deal' as object_type,
        deal_key as object_id,
        source_system,
        deal_id as source_row_id,
        owner_user_key as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        value as amount,
        currency
    from deals
    where status = 'won' and won_at is not null
),

deal_lost as (
    select
        deal_key as case_id,
        'Deal Lost' as activity,
        lost_at as event_at,
        'deal' as object_type,
        deal_key as object_id,
        source_system,
        deal_id as source_row_id,
        owner_user_key as resource_user_key,
        cast(null as {{ dbt.type_boolean() }}) as is_automated,
        value as amount,
        currency
    from deals
    where status = 'lost' and lost_at is not null
),

final as (
    select * from deal_created
    union all
    select * from deal_won
    union all
    select * from deal_lost
)

select * from final
