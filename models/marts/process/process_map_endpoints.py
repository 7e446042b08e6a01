"""Start and end activities with case counts, overall and per segment (logic: l2c.mining.dfg)."""

from l2c.mining import marts


def model(dbt, session):
    dbt.config(materialized="table")
    process_map = marts.process_map_for(
        session, dbt.ref("event_log"), dbt.ref("cases"), min_transitions=0, bottlenecks=0
    )
    return process_map.endpoints_table
