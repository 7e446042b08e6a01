{{ config(meta={'keeps_raw_rows': false}) }}  -- keeps only the lines that change MRR, by design
-- Quantity and price changes of Stripe subscriptions, read from the invoice lines (the
-- subscription object shows only its current items; its Events expire after 30 days).
-- Each subscription line says what was billed from its period start: a regular line (not a
-- proration) the quantity and price of the whole period; the positive proration line of an
-- invoice with billing_reason subscription_update ("Remaining time on ...") the new quantity
-- and price from the change until the period end (its negative twin, "Unused time on ...",
-- credits the old one). Ordered by period start, every line whose MRR (unit_amount x
-- quantity / interval months) differs from the line before is a change at its period start:
-- an expansion now (prorated) or a change that took effect at a period start (a subscription
-- schedule's next phase, or an item updated without proration). One subscription item per
-- subscription assumed: lines of several items at one period start are summed.
with lines as (
    {{ select_source_columns('stripe', 'invoices__lines__data', [
        '_dlt_parent_id:string', '_dlt_list_idx:bigint', 'subscription:string',
        'amount:bigint', 'quantity:bigint', 'currency:string', 'proration:boolean',
        'parent__subscription_item_details__proration:boolean', 'price__unit_amount:bigint',
        'price__recurring__interval:string', 'price__recurring__interval_count:bigint',
        'period__start:bigint',
    ]) }}
),

invoices as (
    {{ select_source_columns('stripe', 'invoices', [
        'id:string', '_dlt_id:string', 'created:bigint',
    ]) }}
),

billed as (
    select
        lines.subscription,
        invoices.id as invoice_id,
        invoices.created as invoice_created,
        lines.period__start as effective_at,
        lines.currency,
        sum(coalesce(lines.quantity, 1)) as quantity,
        sum(
            cast(lines.price__unit_amount as {{ type_double() }}) * coalesce(lines.quantity, 1)
            / nullif(
                case lower(lines.price__recurring__interval)
                    when 'year' then 12
                    when 'month' then 1
                end * coalesce(lines.price__recurring__interval_count, 1),
                0
            )
        ) as mrr_minor
    from lines
    inner join invoices
        on lines._dlt_parent_id = invoices._dlt_id
    where
        lines.subscription is not null
        and lines.period__start is not null
        and (
            not coalesce(lines.proration, lines.parent__subscription_item_details__proration, false)
            or lines.amount > 0
        )
    group by
        lines.subscription, invoices.id, invoices.created, lines.period__start, lines.currency
),

sequenced as (
    select
        *,
        lag(quantity) over (
            partition by subscription order by effective_at, invoice_created, invoice_id
        ) as previous_quantity,
        lag(mrr_minor) over (
            partition by subscription order by effective_at, invoice_created, invoice_id
        ) as previous_mrr_minor
    from billed
),

renamed as (
    select
        'stripe' as source_system,
        {{ make_key('stripe', dbt.concat(['subscription', "':'", 'invoice_id'])) }}
            as subscription_change_key,
        {{ dbt.concat(['subscription', "':'", 'invoice_id']) }} as subscription_change_id,
        {{ make_key('stripe', 'subscription') }} as subscription_key,
        {{ make_key('stripe', 'invoice_id') }} as invoice_key,
        case when mrr_minor > previous_mrr_minor then 'expansion' else 'contraction' end
            as change_type,
        cast(previous_quantity as {{ type_double() }}) as previous_quantity,
        cast(quantity as {{ type_double() }}) as quantity,
        {{ minor_to_major('previous_mrr_minor') }} as previous_mrr,
        {{ minor_to_major('mrr_minor') }} as mrr,
        upper(currency) as currency,
        {{ unix_to_timestamp('effective_at') }} as changed_at
    from sequenced
    where previous_mrr_minor is not null and mrr_minor <> previous_mrr_minor
),

final as (
    {{ select_canonical('subscription_changes') }}
)

select * from final
