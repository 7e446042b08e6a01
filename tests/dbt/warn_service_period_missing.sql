-- Subscription invoice lines without a service period: recognised in full at the invoice
-- date instead of over their period, so recognised and deferred revenue are off.
-- One row per affected (source_system, object_type): see marts.data_quality_issues.
{{ config(severity='warn') }}

{{ data_quality_issue_rows('service_period_missing') }}
