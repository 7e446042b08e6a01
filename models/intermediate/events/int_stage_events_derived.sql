-- Stage Entered family: one event per stage entry (incl. the synthetic creation entry),
-- activity 'Stage Entered: <canonical stage>'.
with stage_entries as (
    select * from {{ ref('int_stage_changes_mapped') }}
),

final as (
    select
        deal_key as case_id,
        {{ dbt.concat(["'Stage Entered: '", "canonical_stage"]) }} as activity,
        entered_at as event_at,
        'deal' as object_type,
        deal_key as object_id,
        source_system,
        source_row_id,
        user_key as resource_user_key,
        is_automated,
        cast(null as {{ type_double() }}) as amount,
        cast(null as {{ dbt.type_string() }}) as currency
    from stage_entries
    where entered_at is not null
)

select * from final
