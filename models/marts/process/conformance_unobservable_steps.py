"""The ideal path's steps each source system cannot observe (logic: l2c.mining.conformance)."""

from l2c.mining import marts


def model(dbt, session):
    dbt.config(materialized="table")
    return marts.unobservable(
        session,
        dbt.ref("event_log"),
        dbt.ref("ideal_path"),
        dbt.ref("cases"),
        dbt.ref("int_observable_activities_resolved"),
    )
