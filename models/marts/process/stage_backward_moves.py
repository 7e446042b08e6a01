"""Backward moves between canonical stages (logic: l2c.mining.rework)."""

from l2c.mining import marts


def model(dbt, session):
    dbt.config(materialized="table")
    return marts.backward_moves(session, dbt.ref("event_log"), dbt.ref("canonical_stages"))
