"""Loss and late-payment rates per variant and per deviation (logic: l2c.mining.outcomes)."""

from l2c.mining import marts


def model(dbt, session):
    dbt.config(materialized="table")
    invoices = dbt.ref("invoices")
    # invoices are past due at the as-of instant of the system(s) that issued them
    invoicing = {row[0] for row in invoices.project("source_system").distinct().fetchall()}
    as_of_rows = dbt.ref("int_as_of_resolved").project("source_system, as_of").fetchall()
    as_of = max((at for system, at in as_of_rows if system in invoicing), default=None)
    return marts.outcomes(
        session,
        process_variants=dbt.ref("process_variants"),
        case_variants=dbt.ref("case_variants"),
        case_conformance=dbt.ref("case_conformance"),
        deviations=dbt.ref("conformance_deviations"),
        cases=dbt.ref("cases"),
        invoices=invoices,
        as_of=as_of,
        min_group_size=int(dbt.config.get("min_group_size")),
    )
