-- Stripe invoice lines (the dlt child table of the invoices): what each line bills, its
-- amount before invoice-level discounts, and the service period it covers. A subscription
-- line names its subscription (top-level `subscription` before API 2025-03-31,
-- `parent.subscription_item_details.subscription` since) and carries `period.start/end`.
-- One-off lines may carry no period (or a zero-length one: Stripe sets start = end for an
-- invoice item without a period): both are null here. Line id: `unique_id` where the API
-- version sends it (before 2019-12-03 `id` was not globally unique), else `id`; the key is
-- scoped by the invoice as well. Only the lines embedded in the invoice object are read (its
-- first page of lines: a longer invoice has `lines.has_more`): the revenue schedule then
-- allocates the invoice total over the lines read.
with lines as (
    {{ select_source_columns('stripe', 'invoices__lines__data', [
        'id:string', 'unique_id:string', '_dlt_parent_id:string', 'amount:bigint',
        'currency:string',
        'description:string', 'quantity:float', 'subscription:string',
        'parent__subscription_item_details__subscription:string', 'period__start:bigint',
        'period__end:bigint',
    ]) }}
),

invoices as (
    {{ select_source_columns('stripe', 'invoices', [
        'id:string', '_dlt_id:string', 'currency:string',
    ]) }}
),

renamed as (
    select
        'stripe' as source_system,
        {{ make_key('stripe', dbt.concat([
            'invoices.id', "':'", "coalesce(lines.unique_id, lines.id)",
        ])) }} as invoice_line_key,
        coalesce(lines.unique_id, lines.id) as invoice_line_id,
        {{ make_key('stripe', 'invoices.id') }} as invoice_key,
        {{ make_key('stripe', "coalesce(nullif(lines.subscription, ''), "
            ~ "nullif(lines.parent__subscription_item_details__subscription, ''))") }}
            as subscription_key,
        lines.description,
        lines.quantity,
        {{ minor_to_major('lines.amount') }} as amount,
        upper(coalesce(lines.currency, invoices.currency)) as currency,
        case
            when lines.period__end > lines.period__start
                then {{ unix_to_timestamp('lines.period__start') }}
        end as service_period_start_at,
        case
            when lines.period__end > lines.period__start
                then {{ unix_to_timestamp('lines.period__end') }}
        end as service_period_end_at
    from lines
    inner join invoices
        on lines._dlt_parent_id = invoices._dlt_id
),

final as (
    {{ select_canonical('invoice_lines') }}
)

select * from final
