"""Loss and late-payment rates per variant and per deviation (logic: l2c.mining.outcomes)."""

from l2c.mining import marts


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of_resolved").fetchone()[0]
    return marts.outcomes(
        session,
        process_variants=dbt.ref("process_variants"),
        case_variants=dbt.ref("case_variants"),
        case_conformance=dbt.ref("case_conformance"),
        deviations=dbt.ref("conformance_deviations"),
        cases=dbt.ref("cases"),
        invoices=dbt.ref("invoices"),
        as_of=as_of,
        min_group_size=int(dbt.config.get("min_group_size")),
    )
