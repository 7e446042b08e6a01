-- What the loaders quarantined: the rows of raw_<system>.rejects of every registered system
-- (var l2c_systems), in one place. A system's rejects table exists only once something was
-- rejected; until then it contributes no rows (and this mart still builds). File-drop
-- rejects carry the file, row and column; API rejects the resource and record id.
{%- set columns = [
    'reject_id:string', 'resource:string', 'record_id:string', 'reason:string',
    'payload:string', 'rejected_at:timestamp', 'source_file:string', 'source_row:bigint',
    'source_line:bigint', 'column_name:string', 'duplicate_of:string', 'file_sha256:string',
] %}

with rejects as (
    {%- for system in var('l2c_systems') %}
        select
            '{{ system }}' as source_system,
            loaded.*
        from (
            {{ select_relation_columns(
                api.Relation.create(
                    database=target.get('database'),
                    schema='raw_' ~ system,
                    identifier='rejects'
                ),
                columns
            ) }}
        ) as loaded
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select
        cast(
            {{ dbt.concat(['source_system', "':'", 'reject_id']) }} as {{ dbt.type_string() }}
        ) as reject_key,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(reject_id as {{ dbt.type_string() }}) as reject_id,
        cast(resource as {{ dbt.type_string() }}) as resource,
        cast(record_id as {{ dbt.type_string() }}) as record_id,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(source_row as {{ dbt.type_bigint() }}) as source_row,
        cast(source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(column_name as {{ dbt.type_string() }}) as column_name,
        cast(duplicate_of as {{ dbt.type_string() }}) as duplicate_of,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(payload as {{ dbt.type_string() }}) as payload,
        cast(file_sha256 as {{ dbt.type_string() }}) as file_sha256,
        cast(rejected_at as {{ dbt.type_timestamp() }}) as rejected_at
    from rejects
)

select * from final
