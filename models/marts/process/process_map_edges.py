"""Directly-follows edges with waiting times and bottlenecks, overall and per segment
(logic: l2c.mining.dfg)."""

from l2c.mining import marts


def model(dbt, session):
    dbt.config(materialized="table")
    return marts.process_map_edges(
        session,
        dbt.ref("event_log"),
        dbt.ref("cases"),
        min_transitions=int(dbt.config.get("bottleneck_min_transitions")),
        bottlenecks=int(dbt.config.get("bottlenecks")),
    )
