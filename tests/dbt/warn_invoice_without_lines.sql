-- Finalized invoices without any line loaded (of a system that loads lines): billed but
-- never recognised, so recognised revenue is understated.
-- One row per affected (source_system, object_type): see marts.data_quality_issues.
{{ config(severity='warn') }}

{{ data_quality_issue_rows('invoice_without_lines') }}
