-- Pipedrive has no quote object: a quote is a done activity of one of the types in
-- var('pipedrive_quote_activity_types'); it was sent when it was marked as done.
{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only some raw rows, by design
with source as (
    {{ select_source_columns('pipedrive', 'activities', [
        'id:bigint', 'subject:string', 'type:string', 'owner_id:bigint', 'deal_id:bigint',
        'done:boolean', 'marked_as_done_time:timestamptz', 'add_time:timestamptz',
    ]) }}
),

quote_activities as (
    select *
    from source
    where
        coalesce(done, false)
        and lower(type) in (
            {%- for t in var('pipedrive_quote_activity_types') -%}
                '{{ t | lower }}'{{ ", " if not loop.last }}
            {%- endfor -%}
        )
),

renamed as (
    select
        'pipedrive' as source_system,
        {{ make_key('pipedrive', 'id') }} as quote_key,
        cast(id as {{ dbt.type_string() }}) as quote_id,
        {{ make_key('pipedrive', 'deal_id') }} as deal_key,
        {{ make_key('pipedrive', 'owner_id') }} as owner_user_key,
        subject,
        cast(null as {{ type_double() }}) as amount,
        cast(null as {{ dbt.type_string() }}) as currency,
        {{ to_utc_timestamp('add_time') }} as created_at,
        {{ to_utc_timestamp('marked_as_done_time') }} as quote_sent_at,
        -- Pipedrive activities do not record the customer's answer
        cast(null as {{ dbt.type_timestamp() }}) as quote_accepted_at,
        cast(null as {{ dbt.type_timestamp() }}) as quote_rejected_at
    from quote_activities
),

final as (
    {{ select_canonical('quotes') }}
)

select * from final
