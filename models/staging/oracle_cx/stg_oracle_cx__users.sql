-- Sales resources (the users of Oracle CX Sales), keyed by their PartyId: the id that
-- opportunities (OwnerResourcePartyId) and leads (OwnerId) point to.
with source as (
    {{ select_source_columns('oracle_cx', 'resources', [
        'party_id:bigint', 'party_name:string', 'email_address:string',
        'resource_status:string', 'creation_date:timestamptz',
    ]) }}
),

renamed as (
    select
        'oracle_cx' as source_system,
        {{ make_key('oracle_cx', 'party_id') }} as user_key,
        cast(party_id as {{ dbt.type_string() }}) as user_id,
        {{ pseudonymise('party_name', 'pseudonymise_rep_names') }} as user_name,
        {{ pseudonymise('lower(email_address)', 'pseudonymise_rep_names') }} as email,
        coalesce(upper(resource_status) = 'A', true) as is_active,
        {{ to_utc_timestamp('creation_date') }} as created_at
    from source
),

final as (
    {{ select_canonical('users') }}
)

select * from final
