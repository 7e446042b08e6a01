-- Zendesk Sell has no team list: a team is a user group (users.group). One row per group
-- from its members' rows; the manager is the user the members report to.
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
with source as (
    {{ select_source_columns('zendesk_sell', 'users', [
        'id:bigint', 'group__id:bigint', 'group__name:string', 'reports_to:bigint',
    ]) }}
),

members as (
    select
        *,
        row_number() over (partition by group__id order by id) as member_rank,
        max(reports_to) over (partition by group__id) as manager_id
    from source
    where group__id is not null
),

renamed as (
    select
        'zendesk_sell' as source_system,
        {{ make_key('zendesk_sell', 'group__id') }} as team_key,
        cast(group__id as {{ dbt.type_string() }}) as team_id,
        group__name as team_name,
        {{ make_key('zendesk_sell', 'manager_id') }} as manager_user_key,
        true as is_active
    from members
    where member_rank = 1
),

final as (
    {{ select_canonical('teams') }}
)

select * from final
