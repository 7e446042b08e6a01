{#- Generic model test: the built relation has exactly the columns its yml documents, each of
    the declared data_type. The contract check for models dbt cannot contract (dbt Python
    models): dbt enforces `contract: {enforced: true}` on SQL models only. Returns one row per
    mismatch: a documented column that is missing, a column that is not documented, or a
    column whose type is not the declared one (type names compared case-insensitively). -#}
{% test documented_columns(model) %}
    {%- set mismatches = [] -%}
    {%- if execute -%}
        {%- set nodes = graph.nodes.values()
            | selectattr('resource_type', 'equalto', 'model')
            | selectattr('schema', 'equalto', model.schema)
            | selectattr('alias', 'equalto', model.identifier)
            | list -%}
        {%- if nodes | length != 1 -%}
            {{ exceptions.raise_compiler_error(
                'documented_columns: no single model is built as ' ~ model
            ) }}
        {%- endif -%}
        {%- set documented = nodes[0].columns -%}
        {%- set built = {} -%}
        {%- for column in adapter.get_columns_in_relation(model) -%}
            {%- do built.update({column.name | lower: column.dtype}) -%}
        {%- endfor -%}
        {%- for name, spec in documented.items() -%}
            {%- set declared = (spec.data_type or '') | replace(' ', '') | upper -%}
            {%- if name | lower not in built -%}
                {%- do mismatches.append((name, declared or 'documented', 'missing')) -%}
            {%- elif not declared -%}
                {%- do mismatches.append((name, 'no data_type', built[name | lower])) -%}
            {%- elif declared != built[name | lower] | replace(' ', '') | upper -%}
                {%- do mismatches.append((name, declared, built[name | lower])) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set documented_names = documented.keys() | map('lower') | list -%}
        {%- for name, data_type in built.items() -%}
            {%- if name not in documented_names -%}
                {%- do mismatches.append((name, 'not documented', data_type)) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for column_name, documented_as, built_as in mismatches %}
        select
            '{{ column_name }}' as column_name,
            '{{ documented_as }}' as documented_as,
            '{{ built_as }}' as built_as
        union all
    {%- endfor %}
    select
        cast(null as {{ dbt.type_string() }}) as column_name,
        cast(null as {{ dbt.type_string() }}) as documented_as,
        cast(null as {{ dbt.type_string() }}) as built_as
    where 1 = 0
{% endtest %}
