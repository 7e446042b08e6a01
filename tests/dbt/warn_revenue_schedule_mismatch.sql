-- Revenue schedules of a finance system whose total differs from their invoice line's amount
-- (or whose line is not loaded): the line's amount is recognised over the schedule's period,
-- so recognised revenue may differ from the finance system's own schedule.
-- One row per affected (source_system, object_type): see marts.data_quality_issues.
{{ config(severity='warn') }}

{{ data_quality_issue_rows('revenue_schedule_mismatch') }}
