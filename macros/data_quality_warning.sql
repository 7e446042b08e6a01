{#- The rows of marts.data_quality_issues of one issue (source_system, object_type,
    affected_count, description): the one query of the singular tests tests/dbt/warn_<issue>.sql
    (severity warn), so every warn-severity issue also raises a dbt warning. They stay singular
    tests: a generic test with `name:` keeps the node name but its unique id gets a hash
    (test.l2c.warn_<issue>.<hash>), and tests and the refresh log name test.l2c.warn_<issue>. -#}
{% macro data_quality_issue_rows(issue) -%}
with issues as (
    select * from {{ ref('data_quality_issues') }}
),

final as (
    select
        source_system,
        object_type,
        affected_count,
        description
    from issues
    where issue = '{{ issue }}'
)

select * from final
{%- endmacro %}
