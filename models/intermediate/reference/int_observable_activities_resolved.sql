-- The canonical activities a case of each CRM system can show: those its own events record
-- (var l2c_systems, `observes`, from the manifest) and those of every loaded finance / erp
-- system whose `links_to` names it (its invoices, payments or orders join that CRM's cases).
-- A pattern 'Stage Entered: *' stands for every catalog activity it matches; a system without
-- `observes` observes every catalog activity. A linked system with no raw table loaded yet
-- observes nothing (system_has_raw_data), as its *_unioned rows are left out too.
{%- set registry = var('l2c_systems') %}
{%- set declared = [] %}
{%- for crm, crm_cfg in registry.items() if crm_cfg.get('kind') == 'crm' %}
    {%- for observer, cfg in registry.items() %}
        {%- set linked = observer != crm and crm in cfg.get('links_to', [])
            and system_has_raw_data(observer) %}
        {%- if observer == crm or linked %}
            {%- for pattern in cfg.get('observes', ['*']) %}
                {%- do declared.append((crm, observer, pattern)) %}
            {%- endfor %}
        {%- endif %}
    {%- endfor %}
{%- endfor %}

with declared as (
    {%- for crm, observer, pattern in declared %}
        select
            '{{ crm }}' as source_system,
            '{{ observer }}' as observed_by,
            '{{ pattern | replace("'", "''") }}' as activity_pattern
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
    {%- if not declared %}
        select
            cast(null as {{ dbt.type_string() }}) as source_system,
            cast(null as {{ dbt.type_string() }}) as observed_by,
            cast(null as {{ dbt.type_string() }}) as activity_pattern
        where 1 = 0
    {%- endif %}
),

catalog as (
    select * from {{ ref('activity_catalog') }}
),

matched as (
    select distinct
        declared.source_system,
        catalog.activity,
        declared.observed_by
    from declared
    inner join catalog
        on catalog.activity like replace(declared.activity_pattern, '*', '%')
),

final as (
    select
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(activity as {{ dbt.type_string() }}) as activity,
        cast(observed_by as {{ dbt.type_string() }}) as observed_by
    from matched
)

select * from final
