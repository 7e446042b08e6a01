{#- The canonical contract: the columns every staging model of an entity must output, in
    order. Listed once here; *_unioned intermediate models select exactly these columns from
    every registered system (var l2c_systems) that declares the entity. -#}

{% macro canonical_columns(entity) -%}
    {%- set contract = {
        'users': ['user_key:string', 'user_id:string', 'source_system:string',
                  'user_name:string', 'email:string', 'is_active:boolean',
                  'created_at:timestamp'],
        'teams': ['team_key:string', 'team_id:string', 'source_system:string',
                  'team_name:string', 'manager_user_key:string', 'is_active:boolean'],
        'team_members': ['team_key:string', 'user_key:string', 'source_system:string'],
        'leads': ['lead_key:string', 'lead_id:string', 'source_system:string', 'title:string',
                  'owner_user_key:string', 'person_key:string', 'account_key:string',
                  'lead_source:string', 'is_archived:boolean', 'value:float',
                  'currency:string', 'created_at:timestamp', 'updated_at:timestamp',
                  'converted_deal_key:string', 'is_converted:boolean',
                  'disqualified_reason:string'],
        'deals': ['deal_key:string', 'deal_id:string', 'source_system:string', 'title:string',
                  'owner_user_key:string', 'account_key:string', 'person_key:string',
                  'pipeline_key:string', 'stage_key:string', 'status:string', 'value:float',
                  'currency:string', 'region:string', 'lead_key:string',
                  'created_at:timestamp', 'updated_at:timestamp', 'won_at:timestamp',
                  'lost_at:timestamp', 'closed_at:timestamp', 'lost_reason:string',
                  'expected_close_date:date', 'is_deleted:boolean', 'deal_type:string',
                  'campaign_key:string'],
        'pipelines': ['pipeline_key:string', 'pipeline_id:string', 'source_system:string',
                      'pipeline_name:string', 'pipeline_order:int', 'is_deleted:boolean'],
        'stages': ['stage_key:string', 'stage_id:string', 'source_system:string',
                   'pipeline_key:string', 'stage_name:string', 'stage_order:int',
                   'is_deleted:boolean'],
        'stage_changes': ['stage_change_key:string', 'stage_change_id:string',
                          'source_system:string', 'deal_key:string', 'changed_at:timestamp',
                          'from_stage_key:string', 'to_stage_key:string', 'user_key:string',
                          'is_automated:boolean'],
        'quotes': ['quote_key:string', 'quote_id:string', 'source_system:string',
                   'deal_key:string', 'owner_user_key:string', 'subject:string',
                   'amount:float', 'currency:string', 'created_at:timestamp',
                   'quote_sent_at:timestamp', 'quote_accepted_at:timestamp',
                   'quote_rejected_at:timestamp'],
        'orders': ['order_key:string', 'order_id:string', 'source_system:string',
                   'deal_key:string', 'account_key:string', 'owner_user_key:string',
                   'order_number:string', 'status:string', 'amount:float',
                   'currency:string', 'created_at:timestamp', 'fulfilled_at:timestamp',
                   'updated_at:timestamp'],
        'approval_steps': ['approval_step_key:string', 'approval_step_id:string',
                           'source_system:string', 'approval_key:string', 'deal_key:string',
                           'step_status:string', 'actor_user_key:string',
                           'acted_at:timestamp'],
        'contracts': ['contract_key:string', 'contract_id:string', 'source_system:string',
                      'deal_key:string', 'account_key:string', 'status:string',
                      'sent_at:timestamp', 'sent_by_user_key:string', 'signed_at:timestamp',
                      'signed_by_user_key:string', 'updated_at:timestamp'],
        'activities': ['activity_key:string', 'activity_id:string', 'source_system:string',
                       'activity_type:string', 'subject:string', 'deal_key:string',
                       'owner_user_key:string', 'is_done:boolean', 'done_at:timestamp',
                       'due_date:date', 'created_at:timestamp', 'lead_key:string'],
        'owner_changes': ['owner_change_key:string', 'owner_change_id:string',
                          'source_system:string', 'object_type:string', 'deal_key:string',
                          'lead_key:string', 'changed_at:timestamp', 'from_user_key:string',
                          'to_user_key:string', 'changed_by_user_key:string'],
        'lead_qualifications': ['lead_qualification_key:string', 'lead_qualification_id:string',
                                'source_system:string', 'lead_key:string',
                                'qualified_at:timestamp', 'user_key:string'],
        'deal_lines': ['deal_line_key:string', 'deal_line_id:string', 'source_system:string',
                       'deal_key:string', 'product_key:string', 'product_name:string',
                       'quantity:float', 'unit_price:float', 'list_amount:float',
                       'net_amount:float', 'discount_amount:float', 'currency:string',
                       'created_at:timestamp'],
        'deal_discounts': ['deal_discount_key:string', 'deal_discount_id:string',
                           'source_system:string', 'deal_key:string', 'discount_type:string',
                           'discount_value:float', 'description:string',
                           'created_at:timestamp'],
        'customers': ['customer_key:string', 'customer_id:string', 'source_system:string',
                      'customer_name:string', 'email:string', 'currency:string',
                      'country:string', 'crm_account_key:string', 'created_at:timestamp'],
        'invoices': ['invoice_key:string', 'invoice_id:string', 'source_system:string',
                     'customer_key:string', 'crm_deal_key:string', 'invoice_number:string',
                     'status:string', 'collection_method:string', 'currency:string',
                     'subtotal:float', 'total:float', 'amount_due:float', 'amount_paid:float',
                     'amount_remaining:float', 'created_at:timestamp', 'due_at:timestamp',
                     'finalized_at:timestamp', 'paid_at:timestamp', 'voided_at:timestamp',
                     'uncollectible_at:timestamp'],
        'payments': ['payment_key:string', 'payment_id:string', 'source_system:string',
                     'invoice_key:string', 'customer_key:string', 'amount:float',
                     'amount_refunded:float', 'currency:string', 'status:string',
                     'is_successful:boolean', 'paid_at:timestamp'],
        'subscriptions': ['subscription_key:string', 'subscription_id:string',
                          'source_system:string', 'customer_key:string', 'crm_deal_key:string',
                          'status:string', 'product_key:string', 'product_name:string',
                          'billing_interval:string', 'billing_interval_months:int',
                          'term_months:int', 'quantity:float', 'period_amount:float',
                          'mrr:float', 'currency:string', 'created_at:timestamp',
                          'started_at:timestamp', 'cancel_requested_at:timestamp',
                          'ended_at:timestamp', 'cancel_reason:string',
                          'cancel_feedback:string', 'current_period_start_at:timestamp',
                          'current_period_end_at:timestamp'],
        'invoice_billing': ['invoice_key:string', 'source_system:string',
                            'subscription_key:string', 'billing_reason:string',
                            'attempt_count:int', 'next_payment_attempt_at:timestamp',
                            'service_period_start_at:timestamp',
                            'service_period_end_at:timestamp'],
        'payment_failures': ['payment_key:string', 'payment_id:string', 'source_system:string',
                             'invoice_key:string', 'customer_key:string', 'amount:float',
                             'currency:string', 'failure_code:string',
                             'failure_message:string', 'failed_at:timestamp'],
        'refunds': ['refund_key:string', 'refund_id:string', 'source_system:string',
                    'payment_key:string', 'amount:float', 'currency:string', 'reason:string',
                    'status:string', 'refunded_at:timestamp', 'invoice_key:string',
                    'credit_note_key:string'],
        'credit_notes': ['credit_note_key:string', 'credit_note_id:string',
                         'source_system:string', 'invoice_key:string', 'customer_key:string',
                         'credit_note_number:string', 'credit_note_type:string',
                         'amount:float', 'currency:string', 'reason:string', 'status:string',
                         'issued_at:timestamp', 'voided_at:timestamp'],
        'campaigns': ['campaign_key:string', 'campaign_id:string', 'source_system:string',
                      'campaign_name:string', 'campaign_type:string', 'status:string',
                      'created_at:timestamp', 'updated_at:timestamp'],
        'campaign_members': ['campaign_member_key:string', 'campaign_member_id:string',
                             'source_system:string', 'campaign_key:string', 'lead_key:string',
                             'person_key:string', 'member_status:string',
                             'has_responded:boolean', 'created_at:timestamp',
                             'updated_at:timestamp'],
        'products': ['product_key:string', 'product_id:string', 'source_system:string',
                     'product_name:string', 'product_category:string', 'is_active:boolean',
                     'updated_at:timestamp', 'product_category_key:string'],
        'product_categories': ['product_category_key:string', 'product_category_id:string',
                               'source_system:string', 'product_category:string'],
        'subscription_changes': ['subscription_change_key:string',
                                 'subscription_change_id:string', 'source_system:string',
                                 'subscription_key:string', 'invoice_key:string',
                                 'change_type:string', 'previous_quantity:float',
                                 'quantity:float', 'previous_mrr:float', 'mrr:float',
                                 'currency:string', 'changed_at:timestamp'],
        'disputes': ['dispute_key:string', 'dispute_id:string', 'source_system:string',
                     'payment_key:string', 'amount:float', 'currency:string', 'reason:string',
                     'status:string', 'opened_at:timestamp', 'closed_at:timestamp'],
        'invoice_reminders': ['invoice_reminder_key:string', 'invoice_reminder_id:string',
                              'source_system:string', 'invoice_key:string', 'channel:string',
                              'sent_at:timestamp'],
        'invoice_lines': ['invoice_line_key:string', 'invoice_line_id:string',
                          'source_system:string', 'invoice_key:string',
                          'subscription_key:string', 'description:string', 'quantity:float',
                          'amount:float', 'currency:string',
                          'service_period_start_at:timestamp',
                          'service_period_end_at:timestamp'],
        'revenue_schedules': ['revenue_schedule_key:string', 'revenue_schedule_id:string',
                              'source_system:string', 'invoice_line_key:string',
                              'recognition_basis:string', 'amount:float', 'currency:string',
                              'service_period_start_at:timestamp',
                              'service_period_end_at:timestamp', 'created_at:timestamp'],
        'invoice_write_offs': ['invoice_write_off_key:string', 'invoice_write_off_id:string',
                               'source_system:string', 'invoice_key:string', 'amount:float',
                               'currency:string', 'written_off_at:timestamp'],
    } -%}
    {%- if entity not in contract -%}
        {{ exceptions.raise_compiler_error("Unknown canonical entity '" ~ entity ~ "'") }}
    {%- endif -%}
    {{ return(contract[entity]) }}
{%- endmacro %}

{#- A condition true for the rows of a finance system whose invoices carry their deal as a
    native lookup of the CRM's own platform (registry `native_links`, e.g. Certinia on
    Salesforce), not as metadata a company writes. -#}
{% macro is_native_link_system(source_system_expr) -%}
    {%- set systems = [] -%}
    {%- for system, cfg in var('l2c_systems').items() if cfg.get('native_links') -%}
        {%- do systems.append("'" ~ system ~ "'") -%}
    {%- endfor -%}
    {%- if systems -%}
        {{ source_system_expr }} in ({{ systems | join(', ') }})
    {%- else -%}
        1 = 0
    {%- endif -%}
{%- endmacro %}

{#- Systems of the registry that provide an entity. -#}
{% macro systems_for(entity) -%}
    {%- set systems = [] -%}
    {%- for system, cfg in var('l2c_systems').items() -%}
        {%- if entity in cfg.get('entities', []) -%}
            {%- do systems.append(system) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(systems) }}
{%- endmacro %}

{#- Whether any raw table of a system (its dbt source tables) exists in the database. A
    registered system with nothing loaded yet must not contribute rows a staging model writes
    as literals (e.g. the one pipeline of a CRM without pipelines). A system without declared
    sources counts as loaded (nothing to check). Always true while parsing. -#}
{% macro system_has_raw_data(system) -%}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set tables = [] -%}
    {%- for node in graph.sources.values() if node.source_name == system -%}
        {%- do tables.append(node.name) -%}
    {%- endfor -%}
    {%- for table in tables -%}
        {%- if source_columns_present(system, table) | length > 0 -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(tables | length == 0) }}
{%- endmacro %}

{#- Union of stg_<system>__<entity> over the registry, exactly the canonical columns. A
    system with no raw table loaded contributes no rows (system_has_raw_data); with no provider
    the result is an empty typed select. -#}
{% macro union_canonical(entity) -%}
    {%- set cols = [] -%}
    {%- for spec in canonical_columns(entity) -%}
        {%- do cols.append(parse_column_spec(spec)) -%}
    {%- endfor -%}
    {%- set systems = systems_for(entity) -%}
    {%- if systems | length == 0 %}
    select
    {%- for col in cols %}
        cast(null as {{ l2c_type(col.type) }}) as {{ col.name }}{{ "," if not loop.last }}
    {%- endfor %}
    where 1 = 0
    {%- else -%}
    {%- for system in systems %}
    {%- set relation = ref('stg_' ~ system ~ '__' ~ entity) %}
    select
    {%- for col in cols %}
        cast({{ col.name }} as {{ l2c_type(col.type) }}) as {{ col.name }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ relation }}
    {%- if not system_has_raw_data(system) %}
    where 1 = 0  -- {{ system }}: no raw table loaded yet
    {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- endif %}
{%- endmacro %}

{#- Staging helper: final select of the canonical columns of an entity from a CTE. -#}
{% macro select_canonical(entity, relation='renamed') -%}
    select
    {%- for spec in canonical_columns(entity) %}
        {%- set col = parse_column_spec(spec) %}
        cast({{ col.name }} as {{ l2c_type(col.type) }}) as {{ col.name }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ relation }}
{%- endmacro %}

{#- CRM key from finance metadata columns: var maps metadata column suffix -> CRM system. -#}
{% macro crm_key_from_metadata(var_name) -%}
    {%- set mapping = var(var_name, {}) -%}
    {%- if mapping | length == 0 -%}
        cast(null as {{ dbt.type_string() }})
    {%- else -%}
        coalesce(
        {%- for key, system in mapping.items() %}
            {{ make_key(system, "nullif(trim(metadata__" ~ key ~ "), '')") }}
            {{- "," if not loop.last }}
        {%- endfor %},
            cast(null as {{ dbt.type_string() }})
        )
    {%- endif -%}
{%- endmacro %}

{#- Column specs for the metadata columns named in a var (for select_source_columns). -#}
{% macro metadata_column_specs(var_name) -%}
    {%- set specs = [] -%}
    {%- for key in var(var_name, {}).keys() -%}
        {%- do specs.append('metadata__' ~ key ~ ':string') -%}
    {%- endfor -%}
    {{ return(specs) }}
{%- endmacro %}
