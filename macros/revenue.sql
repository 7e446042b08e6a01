{#- Helpers of the revenue marts (discounts, payments, receivables, follow-ups, performance).
    Money KPIs are summed in integer minor units (cents) so that sums do not depend on the
    order of aggregation and an independent recomputation can match them exactly. -#}

{#- Major units (double) -> minor units (bigint), rounded half away from zero. -#}
{% macro to_minor_units(expr) -%}
    cast(round(({{ expr }}) * 100) as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- Minor units (integer) -> major units (double). -#}
{% macro from_minor_units(expr) -%}
    cast(({{ expr }}) as {{ type_double() }}) / 100.0
{%- endmacro %}

{#- Minor units times a rate (e.g. to the reporting currency), rounded to a whole minor unit. -#}
{% macro convert_minor_units(minor_expr, rate_expr) -%}
    cast(round(({{ minor_expr }}) * ({{ rate_expr }})) as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- numerator / denominator as a double; null when the denominator is null or 0 (no integer
    division on any adapter). -#}
{% macro safe_ratio(numerator, denominator) -%}
    case
        when {{ denominator }} <> 0
            then cast({{ numerator }} as {{ type_double() }})
            / cast({{ denominator }} as {{ type_double() }})
    end
{%- endmacro %}

{#- Median / percentile of a whole number of seconds, in days. The percentile of integers
    interpolates exactly, so the result does not depend on float summation order. -#}
{% macro percentile_days(seconds_expr, fraction) -%}
    cast({{ l2c.percentile_cont(seconds_expr, fraction) }} as {{ type_double() }}) / 86400.0
{%- endmacro %}

{#- Receivables aging bucket of a number of days past due (fractional days). -#}
{% macro aging_bucket(days_past_due) -%}
    case
        when {{ days_past_due }} is null then null
        when {{ days_past_due }} <= 0 then 'current'
        when {{ days_past_due }} <= 30 then '1-30'
        when {{ days_past_due }} <= 60 then '31-60'
        when {{ days_past_due }} <= 90 then '61-90'
        else '90+'
    end
{%- endmacro %}

{#- A relation with one column `n` holding 0 .. 10^digits - 1, built portably from a cross join
    of digit rows (no generate_series, which not every adapter has). -#}
{% macro integer_series(digits=3) -%}
    {%- set values = [] -%}
    {%- for i in range(10) -%}{%- do values.append('select ' ~ i ~ ' as d') -%}{%- endfor -%}
    select
        {% for p in range(digits) -%}
            d{{ p }}.d * {{ 10 ** p }}{{ ' + ' if not loop.last }}
        {%- endfor %} as n
    from
        {% for p in range(digits) -%}
            ({{ values | join(' union all ') }}) as d{{ p }}
            {{- ' cross join' if not loop.last }}
        {% endfor %}
{%- endmacro %}

{#- Rank columns of rep_performance / region_performance with the minimum-n guard: each rank is
    null unless its own denominator reaches var min_group_size (and the KPI exists).
    (rank column, KPI, denominator, direction) — rank 1 = the highest KPI. -#}
{% macro performance_rank_specs() -%}
    {{ return([
        ('win_rate_rank', 'win_rate', 'closed_deals'),
        ('discount_pct_rank', 'discount_pct', 'deals_with_lines'),
        ('follow_up_share_rank', 'follow_up_share', 'quotes_follow_up_known'),
        ('on_time_share_rank', 'on_time_share', 'paid_invoices'),
        ('days_late_rank', 'median_days_late', 'paid_invoices'),
    ]) }}
{%- endmacro %}

{% macro performance_ranks() -%}
    {%- set min_n = var('min_group_size') -%}
    {%- for rank_column, kpi, denominator in performance_rank_specs() %}
        case
            when {{ denominator }} >= {{ min_n }} and {{ kpi }} is not null
                then rank() over (
                    partition by {{ denominator }} >= {{ min_n }} and {{ kpi }} is not null
                    order by {{ kpi }} desc
                )
        end as {{ rank_column }},
    {%- endfor %}
        closed_deals < {{ min_n }} as is_below_min_group_size
{%- endmacro %}

{#- The KPI columns shared by rep_performance and region_performance, in order, cast for the
    contract: (column, logical type); 'minor' = an amount summed in cents, published in major
    units of the reporting currency. -#}
{% macro performance_kpi_specs() -%}
    {{ return([
        ('deals_count', 'bigint'), ('open_deals', 'bigint'), ('won_deals', 'bigint'),
        ('lost_deals', 'bigint'), ('closed_deals', 'bigint'), ('win_rate', 'double'),
        ('median_won_cycle_days', 'double'), ('p90_won_cycle_days', 'double'),
        ('deals_with_lines', 'bigint'), ('discount_pct', 'double'),
        ('above_policy_deals', 'bigint'), ('above_policy_share', 'double'),
        ('leakage_reporting_minor', 'minor'),
        ('quotes_sent', 'bigint'), ('quotes_follow_up_known', 'bigint'),
        ('quotes_followed_up', 'bigint'), ('follow_up_share', 'double'),
        ('median_follow_up_delay_days', 'double'),
        ('invoices_count', 'bigint'), ('paid_invoices', 'bigint'),
        ('paid_on_time_invoices', 'bigint'), ('on_time_share', 'double'),
        ('median_days_late', 'double'), ('p90_days_late', 'double'),
        ('paid_won_deals', 'bigint'), ('median_won_to_paid_days', 'double'),
        ('open_invoices', 'bigint'), ('overdue_invoices', 'bigint'),
        ('open_reporting_minor', 'minor'),
    ]) }}
{%- endmacro %}

{% macro performance_kpi_columns(alias) -%}
    {%- set renamed = {
        'leakage_reporting_minor': 'discount_leakage_reporting',
        'open_reporting_minor': 'amount_open_reporting',
    } -%}
    {%- for column, kind in performance_kpi_specs() %}
        {%- if kind == 'bigint' %}
        cast({{ alias }}.{{ column }} as {{ dbt.type_bigint() }}) as {{ column }},
        {%- elif kind == 'double' %}
        cast({{ alias }}.{{ column }} as {{ type_double() }}) as {{ column }},
        {%- else %}
        cast(
            {{ from_minor_units(alias ~ '.' ~ column) }} as {{ type_double() }}
        ) as {{ renamed[column] }},
        {%- endif %}
    {%- endfor %}
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }})
            as reporting_currency,
    {%- for rank_column, kpi, denominator in performance_rank_specs() %}
        cast({{ alias }}.{{ rank_column }} as {{ dbt.type_bigint() }}) as {{ rank_column }},
    {%- endfor %}
        cast({{ alias }}.is_below_min_group_size as {{ dbt.type_boolean() }})
            as is_below_min_group_size
{%- endmacro %}

{#- An aggregate over amounts in the reporting currency that is null (not a partial sum, not a
    fake 0) when any row of the group has an amount that could not be converted: no FX rate for
    its currency on its date (warned, and listed in data_quality_issues as fx_rate_missing).
    `missing_expr` is true on such a row. -#}
{% macro unless_fx_missing(aggregate, missing_expr) -%}
    case
        when max(case when {{ missing_expr }} then 1 else 0 end) = 0
            then {{ aggregate }}
    end
{%- endmacro %}

{#- Minor units of the reporting currency as a double in major units, null (not a partial sum)
    when the row's amount lacks an FX rate: `known_expr` is true when it is complete. -#}
{% macro known_major_units(minor_expr, known_expr='fx_missing = 0') -%}
    cast(
        case when {{ known_expr }} then {{ from_minor_units(minor_expr) }} end
        as {{ type_double() }}
    )
{%- endmacro %}

{#- The body of a `months` CTE: the complete calendar months of each row of `bounds` (its
    partition columns, first_month: a month's first day, as_of), from first_month to the last
    month ended by as_of; month_end = the next month's first day. `series` is a relation of
    integer_series. -#}
{% macro complete_months(bounds='bounds', series='series', partition_by=['source_system']) -%}
    select
        {%- for column in partition_by %}
        {{ bounds }}.{{ column }},
        {%- endfor %}
        cast({{ dbt.dateadd('month', series ~ '.n', bounds ~ '.first_month') }} as date)
            as month_start,
        cast({{ dbt.dateadd('month', series ~ '.n + 1', bounds ~ '.first_month') }} as date)
            as month_end
    from {{ bounds }}
    cross join {{ series }}
    where {{ dbt.dateadd('month', series ~ '.n + 1', bounds ~ '.first_month') }}
        <= {{ bounds }}.as_of
{%- endmacro %}
