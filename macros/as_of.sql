{#- A deal case as it stood at its system's as-of instant: the case outcome counts only once
    its won_at / lost_at is at or before as_of, else the deal is still open. `cases` and
    `as_of` are the relation aliases (the cases mart and int_as_of_resolved, joined on
    source_system). -#}
{% macro outcome_at_as_of(cases='cases', as_of='as_of') -%}
    case
        when {{ cases }}.outcome = 'won' and {{ cases }}.won_at <= {{ as_of }}.as_of then 'won'
        when {{ cases }}.outcome = 'lost' and {{ cases }}.lost_at <= {{ as_of }}.as_of then 'lost'
        else 'open'
    end
{%- endmacro %}

{#- The deals that existed at the as-of instant. A deal without a creation time still counts
    (data_quality_issues reports it as case_without_start). -#}
{% macro created_by_as_of(cases='cases', as_of='as_of') -%}
    ({{ cases }}.deal_created_at is null or {{ cases }}.deal_created_at <= {{ as_of }}.as_of)
{%- endmacro %}
