-- A staging model that maps one raw table 1:1 must keep every raw row: a staging model that
-- comes out emptier than its raw table means data was silently dropped (e.g. a raw table
-- that was not found while the model compiled). The pairs come from the registry (var
-- l2c_systems): every stg_<system>__<entity> model whose only parent is one raw table, unless
-- the model declares `meta: {keeps_raw_rows: false}` (it filters rows on purpose, e.g. stage
-- changes out of a deal's change log). Raw tables that do not exist (yet) are skipped.
{%- set models = [] %}
{%- for system, cfg in var('l2c_systems').items() %}
    {%- for entity in cfg.get('entities', []) %}
        {%- set model_name = 'stg_' ~ system ~ '__' ~ entity %}
        {#- declares the dependency at parse time, so the test runs after the model -#}
        {%- do ref(model_name) %}
        {%- do models.append(model_name) %}
    {%- endfor %}
{%- endfor %}
{%- set pairs = [] %}
{%- if execute %}
    {%- for node in graph.nodes.values() %}
        {%- if node.resource_type == 'model' and node.name in models
            and node.config.meta.get('keeps_raw_rows', true) %}
            {%- set parents = [] %}
            {%- for parent in node.depends_on.nodes %}
                {%- if parent.startswith('source.') %}
                    {%- do parents.append(graph.sources[parent]) %}
                {%- endif %}
            {%- endfor %}
            {%- if parents | length == 1 and source_columns_present(
                parents[0].source_name, parents[0].name) | length > 0 %}
                {%- do pairs.append([parents[0].relation_name, node.name]) %}
            {%- endif %}
        {%- endif %}
    {%- endfor %}
{%- endif %}

with counts as (
    {%- for raw_relation, model in pairs | sort(attribute=1) %}
        select
            '{{ model }}' as model_name,
            (select count(*) from {{ raw_relation }}) as raw_rows,
            (select count(*) from {{ ref(model) }}) as staged_rows
        {%- if not loop.last %}
        union all
        {%- endif %}
    {%- endfor %}
    {%- if pairs | length == 0 %}
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
