with source as (
    {{ select_source_columns('pipedrive', 'users', [
        'id:bigint', 'name:string', 'email:string', 'active_flag:boolean',
        'created:timestamptz',
    ]) }}
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id') }} as user_key,
        cast(id as {{ dbt.type_string() }}) as user_id,
        {{ pseudonymise('name', 'pseudonymise_rep_names') }} as user_name,
        {{ pseudonymise('lower(email)', 'pseudonymise_rep_names') }} as email,
        active_flag as is_active,
        {{ to_utc_timestamp('created') }} as created_at
    from source
),

final as (
    {{ select_canonical('users') }}
)

select * from final
