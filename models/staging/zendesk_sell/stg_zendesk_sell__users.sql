with source as (
    {{ select_source_columns('zendesk_sell', 'users', [
        'id:bigint', 'name:string', 'email:string', 'status:string',
        'created_at:timestamptz',
    ]) }}
),

renamed as (
    select
        'zendesk_sell' as source_system,
        {{ make_key('zendesk_sell', 'id') }} as user_key,
        cast(id as {{ dbt.type_string() }}) as user_id,
        {{ pseudonymise('name', 'pseudonymise_rep_names') }} as user_name,
        {{ pseudonymise('lower(email)', 'pseudonymise_rep_names') }} as email,
        lower(status) = 'active' as is_active,
        {{ to_utc_timestamp('created_at') }} as created_at
    from source
),

final as (
    {{ select_canonical('users') }}
)

select * from final
