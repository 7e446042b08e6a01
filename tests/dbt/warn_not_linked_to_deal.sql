-- Approval requests and contracts that name no deal of the warehouse: they are in no event
-- and no approval or contract mart. One row per affected (source_system, object_type): see
-- marts.data_quality_issues.
{{ config(severity='warn') }}

{{ data_quality_issue_rows('not_linked_to_deal') }}
