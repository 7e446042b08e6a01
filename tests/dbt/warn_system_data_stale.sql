-- Systems whose latest event is more than var stale_system_days before the warehouse as-of
-- instant: a system that stopped loading, or whose export ended.
-- One row per affected (source_system, object_type): see marts.data_quality_issues.
{{ config(severity='warn') }}

{{ data_quality_issue_rows('system_data_stale') }}
