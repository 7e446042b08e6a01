-- Amounts whose currency has no FX rate to the reporting currency on their date (seed
-- fx_rates): their reporting values, and the reporting sums including them, are null.
-- One row per affected (source_system, object_type): see marts.data_quality_issues.
{{ config(severity='warn') }}

{{ data_quality_issue_rows('fx_rate_missing') }}
