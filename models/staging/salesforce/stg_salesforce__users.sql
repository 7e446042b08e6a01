with source as (
    {{ select_source_columns('salesforce', 'users', [
        'id:string', 'name:string', 'email:string', 'is_active:boolean',
        'created_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as user_key,
        id as user_id,
        {{ pseudonymise('name', 'pseudonymise_rep_names') }} as user_name,
        {{ pseudonymise('lower(email)', 'pseudonymise_rep_names') }} as email,
        is_active,
        {{ to_utc_timestamp('created_date') }} as created_at
    from source
),

final as (
    {{ select_canonical('users') }}
)

select * from final
