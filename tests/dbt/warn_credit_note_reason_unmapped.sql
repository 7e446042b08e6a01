-- Credit notes whose reason is none of the canonical credit-note reasons (a value of the
-- system's own that its staging model does not map): each is a reason row of its own in
-- refund_reasons. One row per affected source_system: see marts.data_quality_issues.
{{ config(severity='warn') }}

{{ data_quality_issue_rows('credit_note_reason_unmapped') }}
