-- Stage moves from OpportunityHistory (one row per change of stage, amount or close date).
-- Only rows in open stages count: a move into a closed stage is the outcome (deal status), and
-- reopening goes back to the stage the opportunity was closed in (no new stage entry). The
-- first open row of an opportunity is its creation, not a move. Closed stage names come from
-- var salesforce_closed_stages (default: the standard Closed Won / Closed Lost).
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
{%- set closed = var('salesforce_closed_stages', ['Closed Won', 'Closed Lost']) %}
{%- set closed_list = "('" ~ closed | join("', '") ~ "')" %}
{%- set master_record_type = "'012000000000000AAA'" %}
{%- set record_type = "coalesce(opportunity__record_type_id, " ~ master_record_type ~ ")" %}
with source as (
    {{ select_source_columns('salesforce', 'opportunity_history', [
        'id:string', 'opportunity_id:string', 'stage_name:string',
        'created_date:timestamptz', 'created_by_id:string',
        'opportunity__record_type_id:string',
    ]) }}
),

open_stage_rows as (
    select *
    from source
    where stage_name not in {{ closed_list }}
),

sequenced as (
    select
        *,
        lag(stage_name) over (
            partition by opportunity_id
            order by created_date, id
        ) as previous_stage_name
    from open_stage_rows
),

stage_moves as (
    select *
    from sequenced
    where previous_stage_name is not null and previous_stage_name <> stage_name
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as stage_change_key,
        id as stage_change_id,
        {{ make_key('salesforce', 'opportunity_id') }} as deal_key,
        {{ to_utc_timestamp('created_date') }} as changed_at,
        {{ make_key(
            'salesforce', dbt.concat([record_type, "':'", 'previous_stage_name']), 'stage'
        ) }} as from_stage_key,
        {{ make_key('salesforce', dbt.concat([record_type, "':'", 'stage_name']), 'stage') }}
            as to_stage_key,
        {{ make_key('salesforce', 'created_by_id') }} as user_key,
        -- Salesforce history does not say whether a change came through the API
        cast(null as {{ dbt.type_boolean() }}) as is_automated
    from stage_moves
),

final as (
    {{ select_canonical('stage_changes') }}
)

select * from final
