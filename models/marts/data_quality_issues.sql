-- Gaps in the data that make numbers incomplete, said out loud. One row per (issue,
-- source_system, object_type) that has at least one affected object:
--   fx_rate_missing     an amount whose currency has no rate to the reporting currency in seed
--                       fx_rates on its date: its reporting value is null, and so is every
--                       reporting sum that includes it (never a partial sum or a fake 0);
--   case_without_start  a deal without a creation time (a lead case: without lead creation
--                       time): counted in win rates and funnels (cohort '(none)'), but no
--                       Deal Created event and no cycle time; with no event at all it is not
--                       in the process-mining marts;
--   system_data_stale   a system whose latest event is more than var stale_system_days before
--                       the warehouse's as-of instant (its own as-of is its latest event);
--   system_without_data a registered system (var l2c_systems) with no event (severity info);
--   not_linked_to_deal  an approval request or contract that names no deal of the warehouse
--                       (an approval on another object than an opportunity, a contract
--                       without its opportunity, or a deleted or unknown deal): not in the
--                       event log nor in the approval and contract marts;
--   service_period_missing  a subscription invoice line without a service period: recognised
--                       in full at the invoice date (revenue_recognition_schedule);
--   invoice_without_lines  a finalized, non-void invoice of a system that loads invoice lines,
--                       with none of its own: billed but never recognised;
--   revenue_schedule_mismatch  a finance system's revenue schedule (int_revenue_schedules_
--                       unioned) whose total differs from its invoice line's amount by more
--                       than a cent, or whose line is not loaded: the line's amount is
--                       recognised over the schedule's period, not the schedule's total;
--   product_category_unresolved  a product pointing at a category (Pipedrive: an option of
--                       the product field `category`) whose label is not loaded: its deals
--                       count under product_category '(none)' in segment_performance;
--   credit_note_reason_unmapped  a credit note whose reason is none of the canonical ones
--                       (macro credit_note_reasons): a system's own value its staging model
--                       does not map (Certinia: var certinia_credit_note_reasons); it is its
--                       own reason row in refund_reasons (and of the refunds paying it back).
-- The warn-severity rows are also raised as dbt warnings by the tests in tests/dbt/warn_*.sql.
{%- set stale_days = var('stale_system_days') %}
{%- set reason_list = "('" ~ credit_note_reasons() | join("', '") ~ "')" %}

with cases as (
    select * from {{ ref('cases') }}
),

events as (
    select * from {{ ref('event_log') }}
),

invoices as (
    select * from {{ ref('invoices') }}
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

approval_steps as (
    select * from {{ ref('int_approval_steps_unioned') }}
),

contracts as (
    select * from {{ ref('int_contracts_unioned') }}
),

case_deals as (
    select * from {{ ref('int_deals_filtered') }}
),

-- every converted amount: (object, its system, amount, currency, date, reporting value)
amounts as (
    select
        case_type as object_type,
        source_system,
        currency,
        cast(coalesce(deal_created_at, lead_created_at) as date) as amount_date,
        deal_value is not null and deal_value_reporting is null as is_missing
    from cases
    union all
    select
        'invoice' as object_type,
        source_system,
        currency,
        cast(created_at as date) as amount_date,
        total is not null and total_reporting is null as is_missing
    from invoices
    union all
    select
        'event' as object_type,
        source_system,
        currency,
        cast(event_at as date) as amount_date,
        amount is not null and amount_reporting is null as is_missing
    from events
    where amount is not null
),

missing_by_currency as (
    select
        object_type,
        source_system,
        coalesce(currency, '(no currency)') as currency,
        count(*) as affected_count,
        min(amount_date) as first_date,
        max(amount_date) as last_date
    from amounts
    where is_missing
    group by object_type, source_system, coalesce(currency, '(no currency)')
),

amount_totals as (
    select
        object_type,
        source_system,
        count(*) as total_count
    from amounts
    group by object_type, source_system
),

fx_rate_missing as (
    select
        'fx_rate_missing' as issue,
        'warn' as severity,
        missing_by_currency.source_system,
        missing_by_currency.object_type,
        sum(missing_by_currency.affected_count) as affected_count,
        min(amount_totals.total_count) as total_count,
        {{ dbt.concat([
            "'amounts without an FX rate to " ~ var('reporting_currency')
            ~ " in seed fx_rates for their currency and date: '",
            ordered_listagg(
                dbt.concat([
                    'missing_by_currency.currency', "' '",
                    'coalesce(cast(missing_by_currency.first_date as ' ~ dbt.type_string()
                    ~ "), '(no date)')",
                    "'..'",
                    'coalesce(cast(missing_by_currency.last_date as ' ~ dbt.type_string()
                    ~ "), '(no date)')",
                    "' ('",
                    'cast(missing_by_currency.affected_count as ' ~ dbt.type_string() ~ ')',
                    "')'",
                ]),
                "', '",
                'missing_by_currency.currency'
            ),
            "'. Their reporting values are null, and so is every reporting sum that"
            ~ " includes them.'",
        ]) }} as description
    from missing_by_currency
    inner join amount_totals
        on
            missing_by_currency.object_type = amount_totals.object_type
            and missing_by_currency.source_system = amount_totals.source_system
    group by missing_by_currency.source_system, missing_by_currency.object_type
),

case_starts as (
    select
        source_system,
        case_type as object_type,
        count(*) as total_count,
        sum(
            case
                when case_type = 'deal' and deal_created_at is null then 1
                when case_type = 'lead' and lead_created_at is null then 1
                else 0
            end
        ) as affected_count,
        sum(
            case
                when
                    (case_type = 'deal' and deal_created_at is null)
                    or (case_type = 'lead' and lead_created_at is null)
                    then case when events_count = 0 then 1 else 0 end
                else 0
            end
        ) as without_events_count
    from cases
    group by source_system, case_type
),

case_without_start as (
    select
        'case_without_start' as issue,
        'warn' as severity,
        source_system,
        object_type,
        affected_count,
        total_count,
        {{ dbt.concat([
            "'cases without a creation time: counted in cases, win_rates (cohort (none)) and"
            ~ " the funnels, but without a creation event, cycle time or cohort; '",
            'cast(without_events_count as ' ~ dbt.type_string() ~ ')',
            "' of them have no event at all and are not in the event log or the"
            ~ " process-mining marts.'",
        ]) }} as description
    from case_starts
    where affected_count > 0
),

system_data_stale as (
    select
        'system_data_stale' as issue,
        'warn' as severity,
        source_system,
        'system' as object_type,
        1 as affected_count,
        1 as total_count,
        {{ dbt.concat([
            "'latest event '",
            'cast(latest_event_at as ' ~ dbt.type_string() ~ ')',
            "' is '",
            'cast(cast(floor(days_behind) as ' ~ dbt.type_bigint() ~ ') as '
            ~ dbt.type_string() ~ ')',
            "' days before the warehouse as-of instant '",
            'cast(warehouse_as_of as ' ~ dbt.type_string() ~ ')',
            "' (threshold: var stale_system_days = " ~ stale_days ~ "). Its open durations"
            ~ " are measured to its own as-of instant '",
            'cast(as_of as ' ~ dbt.type_string() ~ ')',
            "'; check that it is still loaded.'",
        ]) }} as description
    from as_of
    where days_behind > {{ stale_days }}
),

system_without_data as (
    select
        'system_without_data' as issue,
        'info' as severity,
        source_system,
        'system' as object_type,
        1 as affected_count,
        1 as total_count,
        'registered in var l2c_systems, but no event: its raw tables are absent or empty'
            as description
    from as_of
    where latest_event_at is null
),

deal_links as (
    select
        'approval' as object_type,
        approval_steps.source_system,
        approval_steps.approval_key as object_key,
        case_deals.deal_key is not null as is_linked
    from approval_steps
    left join case_deals
        on
            approval_steps.deal_key = case_deals.deal_key
            and approval_steps.source_system = case_deals.source_system
    union all
    select
        'contract' as object_type,
        contracts.source_system,
        contracts.contract_key as object_key,
        case_deals.deal_key is not null as is_linked
    from contracts
    left join case_deals
        on
            contracts.deal_key = case_deals.deal_key
            and contracts.source_system = case_deals.source_system
),

deal_link_counts as (
    select
        object_type,
        source_system,
        count(distinct object_key) as total_count,
        count(distinct case when not is_linked then object_key end) as affected_count
    from deal_links
    group by object_type, source_system
),

not_linked_to_deal as (
    select
        'not_linked_to_deal' as issue,
        'warn' as severity,
        source_system,
        object_type,
        affected_count,
        total_count,
        {{ dbt.concat([
            "'approval requests or contracts that name no deal of the warehouse (an approval"
            ~ " on another object than an opportunity, a contract without its opportunity, a"
            ~ " deleted or unknown deal): not in the event log nor in the approval and"
            ~ " contract marts'",
        ]) }} as description
    from deal_link_counts
    where affected_count > 0
),

schedule as (
    select * from {{ ref('revenue_recognition_schedule') }}
),

subscription_lines as (
    select
        source_system,
        count(distinct invoice_line_key) as total_count,
        count(distinct case when is_period_missing then invoice_line_key end)
            as affected_count
    from schedule
    where subscription_key is not null
    group by source_system
),

service_period_missing as (
    select
        'service_period_missing' as issue,
        'warn' as severity,
        source_system,
        'invoice_line' as object_type,
        affected_count,
        total_count,
        {{ dbt.concat([
            "'subscription invoice lines without a service period: recognised in full at"
            ~ " the invoice date instead of over the period (revenue_recognition_schedule"
            ~ " is_period_missing), so recognised and deferred revenue are off by their"
            ~ " deferred part'",
        ]) }} as description
    from subscription_lines
    where affected_count > 0
),

invoice_lines as (
    select * from {{ ref('int_invoice_lines_unioned') }}
),

line_invoices as (
    select distinct
        source_system,
        invoice_key
    from invoice_lines
),

line_systems as (
    select distinct source_system from invoice_lines
),

-- finalized non-void invoices of a system that loads invoice lines, with none of their own
lined_invoices as (
    select
        invoices.source_system,
        count(*) as total_count,
        sum(case when line_invoices.invoice_key is null then 1 else 0 end) as affected_count
    from invoices
    inner join line_systems
        on invoices.source_system = line_systems.source_system
    left join line_invoices
        on
            invoices.invoice_key = line_invoices.invoice_key
            and invoices.source_system = line_invoices.source_system
    where invoices.status <> 'void' and invoices.finalized_at is not null
    group by invoices.source_system
),

invoice_without_lines as (
    select
        'invoice_without_lines' as issue,
        'warn' as severity,
        source_system,
        'invoice' as object_type,
        affected_count,
        total_count,
        {{ dbt.concat([
            "'finalized invoices without any line loaded: their revenue is billed but never"
            ~ " recognised (no revenue_recognition_schedule rows, no Revenue Recognized"
            ~ " events), so recognised revenue is understated and deferred revenue overstated'",
        ]) }} as description
    from lined_invoices
    where affected_count > 0
),

revenue_schedules as (
    select * from {{ ref('int_revenue_schedules_unioned') }}
),

scheduled_lines as (
    select
        revenue_schedules.source_system,
        count(*) as total_count,
        sum(
            case
                when invoice_lines.invoice_line_key is null then 1
                when revenue_schedules.amount is null then 0
                when abs(revenue_schedules.amount - invoice_lines.amount) > 0.005 then 1
                else 0
            end
        ) as affected_count
    from revenue_schedules
    left join invoice_lines
        on
            revenue_schedules.invoice_line_key = invoice_lines.invoice_line_key
            and revenue_schedules.source_system = invoice_lines.source_system
    group by revenue_schedules.source_system
),

revenue_schedule_mismatch as (
    select
        'revenue_schedule_mismatch' as issue,
        'warn' as severity,
        source_system,
        'revenue_schedule' as object_type,
        affected_count,
        total_count,
        {{ dbt.concat([
            "'revenue schedules whose total differs from their invoice line amount, or whose"
            ~ " line is not loaded: the line amount is recognised over the schedule period"
            ~ " (revenue_recognition_schedule), so recognised revenue may differ from the"
            ~ " finance system schedule'",
        ]) }} as description
    from scheduled_lines
    where affected_count > 0
),

resolved_products as (
    select * from {{ ref('int_products_resolved') }}
),

product_category_unresolved as (
    select
        'product_category_unresolved' as issue,
        'warn' as severity,
        source_system,
        'product' as object_type,
        sum(
            case
                when product_category_key is not null and product_category is null then 1
                else 0
            end
        ) as affected_count,
        count(*) as total_count,
        {{ dbt.concat([
            "'products pointing at a category whose label is not loaded (e.g. a deleted"
            ~ " option of the Pipedrive product field category): their deals count under"
            ~ " product_category (none) in segment_performance'",
        ]) }} as description
    from resolved_products
    group by source_system
    having
        sum(
            case
                when product_category_key is not null and product_category is null then 1
                else 0
            end
        ) > 0
),

credit_notes as (
    select * from {{ ref('int_credit_notes_unioned') }}
),

credit_note_reasons_counted as (
    select
        source_system,
        reason,
        reason in {{ reason_list }} as is_canonical,
        count(*) as notes_count
    from credit_notes
    group by source_system, reason
),

credit_note_reason_unmapped as (
    select
        'credit_note_reason_unmapped' as issue,
        'warn' as severity,
        source_system,
        'credit_note' as object_type,
        sum(case when is_canonical then 0 else notes_count end) as affected_count,
        sum(notes_count) as total_count,
        {{ dbt.concat([
            "'credit notes whose reason is not a canonical credit-note reason: '",
            ordered_listagg('case when not is_canonical then reason end', "', '", 'reason'),
            "'. Map them in the staging model of the system (Certinia: var"
            ~ " certinia_credit_note_reasons); until then each is a reason row of its own in"
            ~ " refund_reasons'",
        ]) }} as description
    from credit_note_reasons_counted
    group by source_system
    having sum(case when is_canonical then 0 else notes_count end) > 0
),

issues as (
    select * from fx_rate_missing
    union all
    select * from case_without_start
    union all
    select * from system_data_stale
    union all
    select * from system_without_data
    union all
    select * from not_linked_to_deal
    union all
    select * from service_period_missing
    union all
    select * from invoice_without_lines
    union all
    select * from revenue_schedule_mismatch
    union all
    select * from product_category_unresolved
    union all
    select * from credit_note_reason_unmapped
),

final as (
    select
        cast(
            {{ dbt.concat(['issue', "':'", 'source_system', "':'", 'object_type']) }}
            as {{ dbt.type_string() }}
        ) as issue_key,
        cast(issue as {{ dbt.type_string() }}) as issue,
        cast(severity as {{ dbt.type_string() }}) as severity,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(object_type as {{ dbt.type_string() }}) as object_type,
        cast(affected_count as {{ dbt.type_bigint() }}) as affected_count,
        cast(total_count as {{ dbt.type_bigint() }}) as total_count,
        cast(description as {{ dbt.type_string() }}) as description
    from issues
)

select * from final
