-- Quotes: standard Quote records and, in orgs with Salesforce CPQ, SBQQ__Quote__c records
-- (either raw table may be absent). Neither object stores when a quote was sent or answered:
-- a quote past Draft (status in var salesforce_quote_sent_statuses) counts as sent at its
-- CreatedDate (quotes are emailed from Salesforce when created), and an answered quote
-- (Accepted; Denied, or Rejected in CPQ) as answered at its LastModifiedDate.
{%- set sent = var(
    'salesforce_quote_sent_statuses', ['Presented', 'Accepted', 'Denied', 'Rejected']
) %}
{%- set rejected = var('salesforce_quote_rejected_statuses', ['Denied', 'Rejected']) %}
{%- set sent_list = "('" ~ sent | join("', '") ~ "')" %}
{%- set rejected_list = "('" ~ rejected | join("', '") ~ "')" %}
with standard_quotes as (
    {{ select_source_columns('salesforce', 'quotes', [
        'id:string', 'opportunity_id:string', 'created_by_id:string', 'name:string',
        'status:string', 'grand_total:float', 'currency_iso_code:string',
        'created_date:timestamptz', 'last_modified_date:timestamptz',
    ]) }}
),

cpq_quotes as (
    {{ select_source_columns('salesforce', 'cpq_quotes', [
        'id:string', 'sbqq__opportunity2__c:string:opportunity_id', 'owner_id:string',
        'name:string', 'sbqq__status__c:string:status', 'sbqq__net_amount__c:float:amount',
        'currency_iso_code:string', 'created_date:timestamptz',
        'last_modified_date:timestamptz',
    ]) }}
),

unioned as (
    select
        id,
        opportunity_id,
        created_by_id as owner_id,
        name,
        status,
        grand_total as amount,
        currency_iso_code,
        created_date,
        last_modified_date
    from standard_quotes
    union all
    select
        id,
        opportunity_id,
        owner_id,
        name,
        status,
        amount,
        currency_iso_code,
        created_date,
        last_modified_date
    from cpq_quotes
),

renamed as (
    select
        'salesforce' as source_system,
        {{ make_key('salesforce', 'id') }} as quote_key,
        id as quote_id,
        {{ make_key('salesforce', 'opportunity_id') }} as deal_key,
        {{ make_key('salesforce', 'owner_id') }} as owner_user_key,
        name as subject,
        amount,
        upper(currency_iso_code) as currency,
        {{ to_utc_timestamp('created_date') }} as created_at,
        case
            when status in {{ sent_list }} then {{ to_utc_timestamp('created_date') }}
        end as quote_sent_at,
        case
            when status = 'Accepted' then {{ to_utc_timestamp('last_modified_date') }}
        end as quote_accepted_at,
        case
            when status in {{ rejected_list }}
                then {{ to_utc_timestamp('last_modified_date') }}
        end as quote_rejected_at
    from unioned
),

final as (
    {{ select_canonical('quotes') }}
)

select * from final
