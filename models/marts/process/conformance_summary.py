"""Conformance rate and outcomes overall and per rep / region / source system
(logic: l2c.mining.outcomes)."""

from l2c.mining import marts


def model(dbt, session):
    dbt.config(materialized="table")
    return marts.summary(
        session,
        dbt.ref("case_conformance"),
        dbt.ref("cases"),
        min_group_size=int(dbt.config.get("min_group_size")),
    )
