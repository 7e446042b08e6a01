-- Group membership of each user (users.group).
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
with source as (
    {{ select_source_columns('zendesk_sell', 'users', ['id:bigint', 'group__id:bigint']) }}
),

renamed as (
    select
        'zendesk_sell' as source_system,
        {{ make_key('zendesk_sell', 'group__id') }} as team_key,
        {{ make_key('zendesk_sell', 'id') }} as user_key
    from source
    where group__id is not null
),

final as (
    {{ select_canonical('team_members') }}
)

select * from final
