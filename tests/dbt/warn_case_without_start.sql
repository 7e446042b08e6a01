-- Cases without a creation time: counted in cases and win rates, but without a creation
-- event, cycle time or cohort (and, with no event at all, absent from process mining).
-- One row per affected (source_system, object_type): see marts.data_quality_issues.
{{ config(severity='warn') }}

{{ data_quality_issue_rows('case_without_start') }}
