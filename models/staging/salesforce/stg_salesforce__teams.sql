-- Teams are user roles (UserRole); the role's forecast manager is the team manager.
with source as (
    {{ select_source_columns('salesforce', 'user_roles', [
        'id:string', 'name:string', 'forecast_user_id:string',
    ]) }}
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as team_key,
        id as team_id,
        name as team_name,
        {{ make_key('salesforce', 'forecast_user_id') }} as manager_user_key,
        -- roles have no active flag: a role that exists is in use
        true as is_active
    from source
),

final as (
    {{ select_canonical('teams') }}
)

select * from final
