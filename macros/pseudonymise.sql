{#- Personal data in staging. With var `pseudonymise_personal_data` on (contacts and
    customers: names, emails, phones) or `pseudonymise_rep_names` on (the CRM users: rep names
    and emails), a value becomes `anon-` and 16 hex digits of a keyed md5 (key | value): the
    same value always gives the same pseudonym, so keys, joins and counts still work, and
    nobody without the key can test a guessed email against it. The key is env
    L2C_PSEUDONYMISATION_KEY, which the refresh job sets from dlt's secrets
    ([l2c] pseudonymisation_key). Raw tables keep what the APIs sent. -#}
{% macro pseudonymise(expression, switch='pseudonymise_personal_data') -%}
    {{ return(adapter.dispatch('pseudonymise', 'l2c')(expression, switch)) }}
{%- endmacro %}

{% macro default__pseudonymise(expression, switch) -%}
    {%- if var(switch, false) -%}
        {%- set key = env_var('L2C_PSEUDONYMISATION_KEY', '') -%}
        {%- if execute and (key | length < 16 or "'" in key or "\\" in key) -%}
            {{ exceptions.raise_compiler_error(
                "var " ~ switch ~ " is on but no pseudonymisation key is set: put "
                ~ "pseudonymisation_key (16 characters or more, no quotes) under [l2c] in "
                ~ ".dlt/secrets.toml, or set L2C__PSEUDONYMISATION_KEY") }}
        {%- endif -%}
        case
            when {{ expression }} is null then null
            else {{ dbt.concat([
                "'anon-'",
                dbt.right(dbt.hash(dbt.concat(["'" ~ key ~ "|'", expression])), "16"),
            ]) }}
        end
    {%- else -%}
        {{ expression }}
    {%- endif -%}
{%- endmacro %}
