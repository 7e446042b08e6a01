-- One row per invoice (all of them, linked or not, voids included) with its settlement as of
-- the as-of instant (int_as_of_resolved): successful payments up to as_of, how many of them
-- were partial (left a balance), paid date and days late (paid - due), whether it is still
-- open at as_of, days past due and aging bucket. Amounts in minor units (cents) of the
-- invoice currency and of var reporting_currency (rate valid on the invoice creation date).
-- An invoice without a due date (charged automatically) has no days late and, while open, is
-- never past due (bucket current). Region: the linked deal's region, else the region of the
-- customer's CRM account (its most recently created deal).
with invoices as (
    select * from {{ ref('int_invoices_linked') }}
),

payments as (
    select * from {{ ref('int_payments_unioned') }}
    where is_successful
),

customers as (
    select * from {{ ref('int_customers_unioned') }}
),

deals as (
    select * from {{ ref('int_deals_enriched') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_ranged') }}
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

invoice_amounts as (
    select
        invoices.*,
        {{ to_minor_units('invoices.total') }} as total_minor
    from invoices
),

payments_to_date as (
    select
        payments.source_system,
        payments.invoice_key,
        payments.payment_key,
        payments.paid_at,
        {{ to_minor_units('payments.amount') }} as amount_minor
    from payments
    inner join as_of
        on payments.source_system = as_of.source_system
    where payments.paid_at <= as_of.as_of
),

payments_running as (
    select
        payments_to_date.source_system,
        payments_to_date.invoice_key,
        payments_to_date.paid_at,
        payments_to_date.amount_minor,
        invoice_amounts.total_minor,
        sum(payments_to_date.amount_minor) over (
            partition by payments_to_date.source_system, payments_to_date.invoice_key
            order by payments_to_date.paid_at, payments_to_date.payment_key
            rows between unbounded preceding and current row
        ) as paid_to_date_minor
    from payments_to_date
    inner join invoice_amounts
        on
            payments_to_date.invoice_key = invoice_amounts.invoice_key
            and payments_to_date.source_system = invoice_amounts.source_system
),

payment_totals as (
    select
        source_system,
        invoice_key,
        count(*) as payments_count,
        sum(
            case when paid_to_date_minor < total_minor then 1 else 0 end
        ) as partial_payments_count,
        sum(amount_minor) as paid_minor,
        min(paid_at) as first_payment_at,
        max(paid_at) as last_payment_at
    from payments_running
    group by source_system, invoice_key
),

account_regions as (
    select
        account_key,
        region,
        row_number() over (
            partition by account_key
            order by created_at desc, deal_key desc
        ) as recency
    from deals
    where account_key is not null and region is not null
),

enriched as (
    select
        invoice_amounts.invoice_key,
        invoice_amounts.invoice_id,
        invoice_amounts.source_system,
        invoice_amounts.customer_key,
        customers.customer_name,
        invoice_amounts.invoice_number,
        invoice_amounts.status,
        invoice_amounts.currency,
        invoice_amounts.total_minor,
        fx_rates.rate_to_reporting,
        invoice_amounts.created_at,
        invoice_amounts.finalized_at,
        invoice_amounts.due_at,
        invoice_amounts.voided_at,
        invoice_amounts.deal_key,
        invoice_amounts.link_method,
        invoice_amounts.billing_reason,
        deals.owner_user_key,
        deals.owner_name,
        deals.team_name,
        deals.won_at as deal_won_at,
        account_regions.region as account_region,
        payment_totals.first_payment_at,
        payment_totals.last_payment_at,
        as_of.as_of,
        coalesce(deals.region, account_regions.region) as region,
        invoice_amounts.status = 'void' as is_void,
        case
            when invoice_amounts.paid_at <= as_of.as_of then invoice_amounts.paid_at
        end as paid_at,
        case
            when invoice_amounts.uncollectible_at <= as_of.as_of
                then invoice_amounts.uncollectible_at
        end as uncollectible_at,
        coalesce(payment_totals.payments_count, 0) as payments_count,
        coalesce(payment_totals.partial_payments_count, 0) as partial_payments_count,
        coalesce(payment_totals.paid_minor, 0) as paid_minor
    from invoice_amounts
    inner join as_of
        on invoice_amounts.source_system = as_of.source_system
    left join payment_totals
        on
            invoice_amounts.invoice_key = payment_totals.invoice_key
            and invoice_amounts.source_system = payment_totals.source_system
    left join customers
        on
            invoice_amounts.customer_key = customers.customer_key
            and invoice_amounts.source_system = customers.source_system
    left join deals
        on invoice_amounts.deal_key = deals.deal_key
    left join account_regions
        on
            customers.crm_account_key = account_regions.account_key
            and account_regions.recency = 1
    left join fx_rates
        on
            invoice_amounts.currency = fx_rates.currency_code
            and cast(invoice_amounts.created_at as date) >= fx_rates.valid_from
            and cast(invoice_amounts.created_at as date) < fx_rates.valid_to
),

settled as (
    select
        *,
        coalesce(
            not is_void
            and finalized_at <= as_of
            and paid_at is null
            and uncollectible_at is null,
            false
        ) as is_open_at_as_of,
        case
            when paid_at is not null and not is_void
                then {{ dbt.datediff('due_at', 'paid_at', 'second') }}
        end as late_seconds
    from enriched
),

final as (
    select
        *,
        cast(late_seconds as {{ type_double() }}) / 86400.0 as days_late,
        case
            when late_seconds is not null then late_seconds <= 0
        end as is_paid_on_time,
        case when is_open_at_as_of then total_minor - paid_minor end as open_minor,
        case
            when is_open_at_as_of
                then {{ convert_minor_units('total_minor - paid_minor', 'rate_to_reporting') }}
        end as open_reporting_minor,
        {{ convert_minor_units('total_minor', 'rate_to_reporting') }} as total_reporting_minor,
        case
            when is_open_at_as_of then {{ days_between('due_at', 'as_of') }}
        end as days_past_due,
        case
            when is_open_at_as_of and due_at is null then 'current'
            when is_open_at_as_of then {{ aging_bucket(days_between('due_at', 'as_of')) }}
        end as aging_bucket
    from settled
)

select * from final
