with source as (
    {{ select_source_columns('pipedrive', 'teams', [
        'id:bigint', 'name:string', 'manager_id:bigint', 'active_flag:boolean',
    ]) }}
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id') }} as team_key,
        cast(id as {{ dbt.type_string() }}) as team_id,
        name as team_name,
        {{ make_key('pipedrive', 'manager_id') }} as manager_user_key,
        active_flag as is_active
    from source
),

final as (
    {{ select_canonical('teams') }}
)

select * from final
