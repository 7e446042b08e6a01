-- Users with their team (alphabetically first team when a user is in several).
with users as (
    select * from {{ ref('int_users_unioned') }}
),

teams as (
    select * from {{ ref('int_teams_unioned') }}
),

team_members as (
    select * from {{ ref('int_team_members_unioned') }}
),

memberships as (
    select
        team_members.source_system,
        team_members.user_key,
        teams.team_key,
        teams.team_name,
        row_number() over (
            partition by team_members.source_system, team_members.user_key
            order by teams.team_name, teams.team_key
        ) as team_rank
    from team_members
    inner join teams
        on
            team_members.team_key = teams.team_key
            and team_members.source_system = teams.source_system
),

final as (
    select
        users.user_key,
        users.user_id,
        users.source_system,
        users.user_name,
        users.email,
        users.is_active,
        users.created_at,
        memberships.team_key,
        memberships.team_name
    from users
    left join memberships
        on
            users.user_key = memberships.user_key
            and users.source_system = memberships.source_system
            and memberships.team_rank = 1
)

select * from final
