"""Start and end activities with case counts, overall and per segment (logic: l2c.mining.dfg)."""

from l2c.mining import marts


def model(dbt, session):
    dbt.config(materialized="table")
    return marts.process_map_endpoints(session, dbt.ref("event_log"), dbt.ref("cases"))
