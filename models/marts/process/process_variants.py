"""Variants of the event log, one row per variant (logic: l2c.mining.variants)."""

from l2c.mining import marts


def model(dbt, session):
    dbt.config(materialized="table")
    return marts.variants(session, dbt.ref("event_log"), dbt.ref("cases"))
