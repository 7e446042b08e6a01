"""Rework per activity incl. backward moves into stages (logic: l2c.mining.rework)."""

from l2c.mining import marts


def model(dbt, session):
    dbt.config(materialized="table")
    return marts.rework(session, dbt.ref("event_log"), dbt.ref("canonical_stages"))
