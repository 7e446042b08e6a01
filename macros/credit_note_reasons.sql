{#- The canonical credit-note reasons: Stripe's (duplicate, fraudulent, order_change,
    product_unsatisfactory), goodwill (a credit given without a fault, for which Stripe has no
    reason) and unspecified (none given). A finance system's own reasons are mapped to these
    in its staging model (map_credit_note_reason); any other value is reported by
    data_quality_issues (credit_note_reason_unmapped). -#}
{% macro credit_note_reasons() -%}
    {{ return(['duplicate', 'fraudulent', 'order_change', 'product_unsatisfactory',
               'goodwill', 'unspecified']) }}
{%- endmacro %}

{#- A system's own credit-note reason (`column`) as a canonical one: `mapping` maps the
    lower-cased, trimmed value to a canonical reason; empty is unspecified; a value the
    mapping does not name stays as given (lower-cased, trimmed) so that it is seen. -#}
{% macro map_credit_note_reason(column, mapping) -%}
    case
        when nullif(trim({{ column }}), '') is null then 'unspecified'
        {%- for value, reason in mapping.items() %}
        when lower(trim({{ column }})) = '{{ value | lower }}' then '{{ reason }}'
        {%- endfor %}
        else lower(trim({{ column }}))
    end
{%- endmacro %}
