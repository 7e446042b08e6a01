with source as (
    {{ select_source_columns('pipedrive', 'team_members', ['team_id:bigint', 'user_id:bigint']) }}
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'team_id') }} as team_key,
        {{ make_key('pipedrive', 'user_id') }} as user_key
    from source
),

final as (
    {{ select_canonical('team_members') }}
)

select * from final
