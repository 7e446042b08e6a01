-- Won deals and their billing: one row per deal won by its system's as-of instant, with its
-- booked value in minor units of var reporting_currency at the rate of the won date, the
-- first finalization of a non-void invoice linked to it (by the invoice system's as-of) and
-- the seconds from won to that first invoice (null: not invoiced yet). Region '(none)'
-- when the deal has none.
with deals as (
    select * from {{ ref('int_deals_enriched') }}
    where status = 'won' and won_at is not null
),

invoices as (
    select * from {{ ref('int_invoices_settled') }}
    where not is_void and finalized_at <= as_of and deal_key is not null
),

as_of as (
    select * from {{ ref('int_as_of_resolved') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_ranged') }}
),

first_invoices as (
    select
        deal_key,
        min(finalized_at) as first_invoiced_at,
        count(*) as invoices_count
    from invoices
    group by deal_key
),

final as (
    select
        deals.deal_key,
        deals.source_system,
        deals.won_at,
        deals.currency,
        fx_rates.rate_to_reporting,
        first_invoices.first_invoiced_at,
        coalesce(deals.region, '(none)') as region,
        coalesce(first_invoices.invoices_count, 0) as invoices_count,
        {{ convert_minor_units(to_minor_units('deals.value'), 'fx_rates.rate_to_reporting') }}
            as booked_reporting_minor,
        {{ dbt.datediff('deals.won_at', 'first_invoices.first_invoiced_at', 'second') }}
            as won_to_invoice_seconds
    from deals
    inner join as_of
        on deals.source_system = as_of.source_system
    left join first_invoices
        on deals.deal_key = first_invoices.deal_key
    left join fx_rates
        on
            deals.currency = fx_rates.currency_code
            and cast(deals.won_at as date) >= fx_rates.valid_from
            and cast(deals.won_at as date) < fx_rates.valid_to
    where deals.won_at <= as_of.as_of
)

select * from final
