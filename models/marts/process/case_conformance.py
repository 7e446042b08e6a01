"""Conformance of each case to the ideal_path seed (logic: l2c.mining.conformance)."""

from l2c.mining import marts


def model(dbt, session):
    dbt.config(materialized="table")
    result = marts.conformance(
        session,
        dbt.ref("event_log"),
        dbt.ref("ideal_path"),
        dbt.ref("cases"),
        dbt.ref("int_observable_activities_resolved"),
    )
    return result.cases
