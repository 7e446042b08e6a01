-- Lead qualifications: LeadHistory rows that move a lead's Status into one of the statuses of
-- var salesforce_qualified_lead_statuses (default ['Qualified']; orgs name their lead statuses
-- freely). user_key = the user who changed the status (CreatedById). A lead qualified twice
-- has two rows; the event log keeps the first.
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
{%- set qualified = var('salesforce_qualified_lead_statuses', ['Qualified']) %}
{%- set qualified_list = "('" ~ qualified | join("', '") ~ "')" %}
with source as (
    {{ select_source_columns('salesforce', 'lead_history', [
        'id:string', 'lead_id:string', 'field:string', 'old_value:string',
        'new_value:string', 'created_date:timestamptz', 'created_by_id:string',
    ]) }}
),

status_moves as (
    select *
    from source
    where
        field = 'Status'
        and new_value in {{ qualified_list }}
        and coalesce(old_value not in {{ qualified_list }}, true)
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as lead_qualification_key,
        id as lead_qualification_id,
        {{ make_key('salesforce', 'lead_id') }} as lead_key,
        {{ to_utc_timestamp('created_date') }} as qualified_at,
        {{ make_key('salesforce', 'created_by_id') }} as user_key
    from status_moves
),

final as (
    {{ select_canonical('lead_qualifications') }}
)

select * from final
