-- Products pointing at a category whose label is not loaded: their deals count under
-- product_category '(none)'. One row per affected source_system: see
-- marts.data_quality_issues.
{{ config(severity='warn') }}

{{ data_quality_issue_rows('product_category_unresolved') }}
