-- DSO per complete calendar month, for the company, per region and per customer.
-- Receivables (AR) at period end: invoices finalized before the end of the month, not void,
-- not paid and not marked uncollectible by then, at their total minus the successful payments
-- received by then. Credit sales: totals of the non-void invoices finalized in the month.
-- DSO = AR / credit sales x days in the month; best-possible DSO uses only the AR not yet due
-- at period end; average days delinquent = DSO - best-possible DSO. Amounts in var
-- reporting_currency (rate valid on the invoice creation date), summed in cents.
-- Company and region rows exist for every month; customer rows only for months with AR at the
-- end or credit sales in the month.
{%- set dimensions = [
    ('company', "'all'"),
    ('region', "coalesce(region, 'Unassigned')"),
    ('customer', 'customer_key'),
] %}

with invoices as (
    select * from {{ ref('int_invoices_settled') }}
    where not is_void and finalized_at is not null
),

payments as (
    select * from {{ ref('int_payments_unioned') }}
    where is_successful
),

-- complete months up to the as-of instant of the invoicing system(s)
as_of as (
    select max(as_of) as as_of
    from {{ ref('int_as_of_resolved') }}
    where source_system in (select invoices.source_system from invoices)
),

numbers as (
    {{ integer_series(3) }}
),

bounds as (
    select {{ dbt.date_trunc('month', 'min(finalized_at)') }} as first_month
    from invoices
),

months as (
    select
        {{ dbt.dateadd('month', 'numbers.n', 'bounds.first_month') }} as period_start,
        {{ dbt.dateadd('month', 'numbers.n + 1', 'bounds.first_month') }} as period_end
    from bounds
    cross join numbers
),

complete_months as (
    select
        months.period_start,
        months.period_end,
        {{ dbt.datediff('months.period_start', 'months.period_end', 'day') }}
            as days_in_period
    from months
    cross join as_of
    where months.period_end <= as_of.as_of
),

outstanding as (
    select
        invoices.invoice_key,
        invoices.source_system,
        invoices.customer_key,
        invoices.region,
        invoices.total_minor,
        invoices.rate_to_reporting,
        invoices.due_at,
        complete_months.period_start,
        complete_months.period_end
    from invoices
    inner join complete_months
        on
            invoices.finalized_at < complete_months.period_end
            and (invoices.paid_at is null or invoices.paid_at >= complete_months.period_end)
            and (
                invoices.uncollectible_at is null
                or invoices.uncollectible_at >= complete_months.period_end
            )
),

paid_before_end as (
    select
        outstanding.invoice_key,
        outstanding.source_system,
        outstanding.period_start,
        sum({{ to_minor_units('payments.amount') }}) as paid_minor
    from outstanding
    inner join payments
        on
            outstanding.invoice_key = payments.invoice_key
            and outstanding.source_system = payments.source_system
            and outstanding.period_end > payments.paid_at
    group by outstanding.invoice_key, outstanding.source_system, outstanding.period_start
),

receivables as (
    select
        outstanding.*,
        {{ convert_minor_units(
            'outstanding.total_minor - coalesce(paid_before_end.paid_minor, 0)',
            'outstanding.rate_to_reporting'
        ) }} as open_reporting_minor,
        outstanding.due_at < outstanding.period_end as is_past_due
    from outstanding
    left join paid_before_end
        on
            outstanding.invoice_key = paid_before_end.invoice_key
            and outstanding.source_system = paid_before_end.source_system
            and outstanding.period_start = paid_before_end.period_start
),

sales as (
    select
        invoices.*,
        complete_months.period_start
    from invoices
    inner join complete_months
        on
            invoices.finalized_at >= complete_months.period_start
            and invoices.finalized_at < complete_months.period_end
),

receivable_kpis as (
    {%- for dimension, expr in dimensions %}
        select
            '{{ dimension }}' as dimension,
            {{ expr }} as dimension_value,
            period_start,
            count(*) as open_invoices,
            {{ unless_fx_missing('sum(open_reporting_minor)', 'rate_to_reporting is null') }}
                as receivables_minor,
            {{ unless_fx_missing(
                'sum(case when is_past_due then 0 else open_reporting_minor end)',
                'rate_to_reporting is null'
            ) }} as current_receivables_minor
        from receivables
        group by {{ expr }}, period_start
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

sales_kpis as (
    {%- for dimension, expr in dimensions %}
        select
            '{{ dimension }}' as dimension,
            {{ expr }} as dimension_value,
            period_start,
            count(*) as invoices_finalized,
            {{ unless_fx_missing('sum(total_reporting_minor)', 'rate_to_reporting is null') }}
                as credit_sales_minor
        from sales
        group by {{ expr }}, period_start
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

dimension_values as (
    {%- for dimension, expr in dimensions if dimension != 'customer' %}
        select distinct
            '{{ dimension }}' as dimension,
            {{ expr }} as dimension_value
        from invoices
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

frame as (
    select
        dimension_values.dimension,
        dimension_values.dimension_value,
        complete_months.period_start
    from dimension_values
    cross join complete_months
    union
    select
        dimension,
        dimension_value,
        period_start
    from receivable_kpis
    where dimension = 'customer'
    union
    select
        dimension,
        dimension_value,
        period_start
    from sales_kpis
    where dimension = 'customer'
),

joined as (
    select
        frame.dimension,
        frame.dimension_value,
        frame.period_start,
        complete_months.period_end,
        complete_months.days_in_period,
        coalesce(receivable_kpis.open_invoices, 0) as open_invoices,
        case
            when receivable_kpis.dimension is not null then receivable_kpis.receivables_minor else 0
        end as receivables_minor,
        case
            when receivable_kpis.dimension is not null
                then receivable_kpis.current_receivables_minor
            else 0
        end as current_receivables_minor,
        coalesce(sales_kpis.invoices_finalized, 0) as invoices_finalized,
        case
            when sales_kpis.dimension is not null then sales_kpis.credit_sales_minor else 0
        end as credit_sales_minor
    from frame
    inner join complete_months
        on frame.period_start = complete_months.period_start
    left join receivable_kpis
        on
            frame.dimension = receivable_kpis.dimension
            and frame.dimension_value = receivable_kpis.dimension_value
            and frame.period_start = receivable_kpis.period_start
    left join sales_kpis
        on
            frame.dimension = sales_kpis.dimension
            and frame.dimension_value = sales_kpis.dimension_value
            and frame.period_start = sales_kpis.period_start
),

measured as (
    select
        *,
        {{ safe_ratio('receivables_minor', 'credit_sales_minor') }}
        * days_in_period as dso,
        {{ safe_ratio('current_receivables_minor', 'credit_sales_minor') }}
        * days_in_period as best_possible_dso
    from joined
),

final as (
    select
        cast(period_start as date) as period_month,
        cast(period_end as {{ dbt.type_timestamp() }}) as period_end,
        cast(days_in_period as {{ dbt.type_int() }}) as days_in_period,
        cast(dimension as {{ dbt.type_string() }}) as dimension,
        cast(dimension_value as {{ dbt.type_string() }}) as dimension_value,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        cast(open_invoices as {{ dbt.type_bigint() }}) as open_invoices,
        cast(
            {{ from_minor_units('receivables_minor') }} as {{ type_double() }}
        ) as receivables_reporting,
        cast(
            {{ from_minor_units('current_receivables_minor') }} as {{ type_double() }}
        ) as current_receivables_reporting,
        cast(
            {{ from_minor_units('receivables_minor - current_receivables_minor') }}
            as {{ type_double() }}
        ) as past_due_receivables_reporting,
        cast(invoices_finalized as {{ dbt.type_bigint() }}) as invoices_finalized,
        cast(
            {{ from_minor_units('credit_sales_minor') }} as {{ type_double() }}
        ) as credit_sales_reporting,
        cast(dso as {{ type_double() }}) as dso,
        cast(best_possible_dso as {{ type_double() }}) as best_possible_dso,
        cast(dso - best_possible_dso as {{ type_double() }}) as average_days_delinquent
    from measured
)

select * from final
