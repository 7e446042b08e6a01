-- A user is a member of the team of their role (User.UserRoleId).
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
with source as (
    {{ select_source_columns('salesforce', 'users', ['id:string', 'user_role_id:string']) }}
),

members as (
    select *
    from source
    where user_role_id is not null
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'user_role_id') }} as team_key,
        {{ make_key('salesforce', 'id') }} as user_key
    from members
),

final as (
    {{ select_canonical('team_members') }}
)

select * from final
