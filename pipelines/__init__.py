"""dlt sources that land raw CRM and finance tables in DuckDB (one dataset per system)."""
