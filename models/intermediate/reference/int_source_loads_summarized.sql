-- The last successful dlt load of every registered system that has been loaded: the instant
-- the warehouse last received that system's data. Systems never loaded have no row.
{%- set loaded = [] %}
{%- for system in var('l2c_systems') %}
    {%- if not execute or source_columns_present(system, '_dlt_loads') | length > 0 %}
        {%- do loaded.append(system) %}
    {%- endif %}
{%- endfor %}

with loads as (
    {%- for system in loaded %}
        select
            '{{ system }}' as source_system,
            load_id,
            inserted_at
        from {{ source(system, '_dlt_loads') }}
        where status = 0
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
    {%- if not loaded %}
        select
            cast(null as {{ dbt.type_string() }}) as source_system,
            cast(null as {{ dbt.type_string() }}) as load_id,
            cast(null as {{ dbt.type_timestamp() }}) as inserted_at
        where 1 = 0
    {%- endif %}
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(max(load_id) as {{ dbt.type_string() }}) as load_id,
        cast(max(inserted_at) as {{ dbt.type_timestamp() }}) as loaded_at
    from loads
    group by source_system
)

select * from final
