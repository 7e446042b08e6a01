-- Canonical refunds with the reason they were given for. Grain: one row per refund_key.
-- A refund that names no reason of its own ('unspecified') but pays back a credit note
-- (credit_note_key: Certinia, whose refund is a Refund cash entry matched to a credit note)
-- takes the credit note's reason; reason_origin says where the reason comes from (refund,
-- credit_note, or none when neither gives one).
{%- set columns = [] %}
{%- for spec in canonical_columns('refunds') %}
    {%- set col = parse_column_spec(spec) %}
    {%- if col.name != 'reason' %}{% do columns.append(col.name) %}{% endif %}
{%- endfor %}

with refunds as (
    select * from {{ ref('int_refunds_unioned') }}
),

credit_notes as (
    select * from {{ ref('int_credit_notes_unioned') }}
),

reasoned as (
    select
        {{ 'refunds.' ~ columns | join(', refunds.') }},
        case
            when refunds.reason != 'unspecified' then refunds.reason
            else coalesce(credit_notes.reason, refunds.reason)
        end as reason,
        case
            when refunds.reason != 'unspecified' then 'refund'
            when credit_notes.reason != 'unspecified' then 'credit_note'
            else 'none'
        end as reason_origin
    from refunds
    left join credit_notes
        on
            refunds.credit_note_key = credit_notes.credit_note_key
            and refunds.source_system = credit_notes.source_system
),

final as (
    select * from reasoned
)

select * from final
