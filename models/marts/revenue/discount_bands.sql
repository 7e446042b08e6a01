-- Win rate, sales cycle and discount leakage by discount band (seed discount_policy), for the
-- whole company (scope 'company') and per rep (scope 'rep', the deal's current owner).
-- Every band appears for every scope, with zero deals where none fall in it.
with deals as (
    select * from {{ ref('int_deals_discounted') }}
    where discount_band is not null
),

discount_policy as (
    select * from {{ ref('discount_policy') }}
),

reps as (
    select
        owner_user_key as rep_key,
        max(owner_name) as rep_name
    from deals
    where owner_user_key is not null
    group by owner_user_key
),

scopes as (
    select
        'company' as scope,
        cast(null as {{ dbt.type_string() }}) as rep_key,
        cast(null as {{ dbt.type_string() }}) as rep_name
    union all
    select
        'rep' as scope,
        rep_key,
        rep_name
    from reps
),

frame as (
    select
        scopes.scope,
        scopes.rep_key,
        scopes.rep_name,
        discount_policy.discount_band,
        discount_policy.band_order,
        discount_policy.is_above_policy
    from scopes
    cross join discount_policy
),

scoped_deals as (
    select
        'company' as scope,
        cast(null as {{ dbt.type_string() }}) as rep_key,
        deals.*
    from deals
    union all
    select
        'rep' as scope,
        owner_user_key as rep_key,
        deals.*
    from deals
    where owner_user_key is not null
),

band_kpis as (
    select
        scope,
        rep_key,
        discount_band,
        count(*) as deals_count,
        sum(case when status = 'won' then 1 else 0 end) as won_deals,
        sum(case when status = 'lost' then 1 else 0 end) as lost_deals,
        {{ percentile_days('won_cycle_seconds', 0.5) }} as median_won_cycle_days,
        {{ percentile_days('won_cycle_seconds', 0.9) }} as p90_won_cycle_days,
        {%- set missing_rate = 'list_minor is not null and rate_to_reporting is null' %}
        {{ unless_fx_missing('sum(list_reporting_minor)', missing_rate) }}
            as list_reporting_minor,
        {{ unless_fx_missing('sum(discount_reporting_minor)', missing_rate) }}
            as discount_reporting_minor,
        {{ unless_fx_missing(
            "sum(case when status = 'won' then discount_reporting_minor else 0 end)",
            "status = 'won' and " ~ missing_rate
        ) }} as leakage_reporting_minor
    from scoped_deals
    group by scope, rep_key, discount_band
),

scope_totals as (
    select
        scope,
        rep_key,
        count(*) as scope_deals_count
    from scoped_deals
    group by scope, rep_key
),

joined as (
    select
        frame.*,
        band_kpis.median_won_cycle_days,
        band_kpis.p90_won_cycle_days,
        coalesce(band_kpis.deals_count, 0) as deals_count,
        coalesce(band_kpis.won_deals, 0) as won_deals,
        coalesce(band_kpis.lost_deals, 0) as lost_deals,
        case
            when band_kpis.scope is not null then band_kpis.list_reporting_minor else 0
        end as list_reporting_minor,
        case
            when band_kpis.scope is not null then band_kpis.discount_reporting_minor else 0
        end as discount_reporting_minor,
        case
            when band_kpis.scope is not null then band_kpis.leakage_reporting_minor else 0
        end as leakage_reporting_minor,
        coalesce(scope_totals.scope_deals_count, 0) as scope_deals_count
    from frame
    left join band_kpis
        on
            frame.scope = band_kpis.scope
            and coalesce(frame.rep_key, '') = coalesce(band_kpis.rep_key, '')
            and frame.discount_band = band_kpis.discount_band
    left join scope_totals
        on
            frame.scope = scope_totals.scope
            and coalesce(frame.rep_key, '') = coalesce(scope_totals.rep_key, '')
),

final as (
    select
        cast(scope as {{ dbt.type_string() }}) as scope,
        cast(rep_key as {{ dbt.type_string() }}) as rep_key,
        cast(rep_name as {{ dbt.type_string() }}) as rep_name,
        cast(discount_band as {{ dbt.type_string() }}) as discount_band,
        cast(band_order as {{ dbt.type_int() }}) as discount_band_order,
        cast(is_above_policy as {{ dbt.type_boolean() }}) as is_above_policy,
        cast(deals_count as {{ dbt.type_bigint() }}) as deals_count,
        cast(
            {{ safe_ratio('deals_count', 'scope_deals_count') }} as {{ type_double() }}
        ) as share_of_deals,
        cast(won_deals as {{ dbt.type_bigint() }}) as won_deals,
        cast(lost_deals as {{ dbt.type_bigint() }}) as lost_deals,
        cast(
            {{ safe_ratio('won_deals', 'won_deals + lost_deals') }} as {{ type_double() }}
        ) as win_rate,
        cast(median_won_cycle_days as {{ type_double() }}) as median_won_cycle_days,
        cast(p90_won_cycle_days as {{ type_double() }}) as p90_won_cycle_days,
        cast(
            100.0 * {{ safe_ratio('discount_reporting_minor', 'list_reporting_minor') }}
            as {{ type_double() }}
        ) as discount_pct,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
        cast(
            {{ from_minor_units('list_reporting_minor') }} as {{ type_double() }}
        ) as list_amount_reporting,
        cast(
            {{ from_minor_units('discount_reporting_minor') }} as {{ type_double() }}
        ) as discount_amount_reporting,
        cast(
            {{ from_minor_units('leakage_reporting_minor') }} as {{ type_double() }}
        ) as discount_leakage_reporting
    from joined
)

select * from final
