-- A staging model that maps one raw table 1:1 must keep every raw row: a staging model that
-- comes out emptier than its raw table means data was silently dropped (e.g. a raw table
-- that was not found while the model compiled). Missing raw tables are skipped.
{%- set pairs = [
    ['pipedrive', 'deals', 'stg_pipedrive__deals'],
    ['pipedrive', 'leads', 'stg_pipedrive__leads'],
    ['stripe', 'customers', 'stg_stripe__customers'],
    ['stripe', 'invoices', 'stg_stripe__invoices'],
    ['stripe', 'charges', 'stg_stripe__payments'],
] %}
{%- set present = [] %}
{%- for source_name, table_name, model in pairs %}
    {%- if not execute or source_columns_present(source_name, table_name) | length > 0 %}
        {%- do present.append([source_name, table_name, model]) %}
    {%- endif %}
{%- endfor %}

with counts as (
    {%- for source_name, table_name, model in present %}
        select
            '{{ model }}' as model_name,
            (select count(*) from {{ source(source_name, table_name) }}) as raw_rows,
            (select count(*) from {{ ref(model) }}) as staged_rows
        {%- if not loop.last %}
        union all
        {%- endif %}
    {%- endfor %}
    {%- if present | length == 0 %}
        select
            cast(null as {{ dbt.type_string() }}) as model_name,
            0 as raw_rows,
            0 as staged_rows
        where 1 = 0
    {%- endif %}
),

final as (
    select *
    from counts
    where raw_rows <> staged_rows
)

select * from final
