"""Case -> variant mapping, one row per case (logic: l2c.mining.variants)."""

from l2c.mining import marts


def model(dbt, session):
    dbt.config(materialized="table")
    return marts.case_variants(session, dbt.ref("event_log"))
