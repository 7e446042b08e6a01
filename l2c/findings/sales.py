"""Sales findings for the demo summary: where time goes and which stages deals skip.

Reads the sales marts (marts.cycle_time_summary, marts.stage_funnel,
marts.case_stage_progression) of a built warehouse and returns short plain-words sentences.
A finding whose mart is empty (or too small to say anything) is left out.
"""

from __future__ import annotations

import duckdb

# Segments that are steps of the process (the composite ones, lead_to_cash and sales_cycle,
# span several steps and would always be "the slowest").
STEP_LABELS: dict[str, str] = {
    "lead_to_deal": "lead -> deal",
    "deal_to_first_quote": "deal -> first quote",
    "quote_sent_to_accepted": "quote sent -> accepted",
    "accepted_to_won": "quote accepted -> won",
    "won_to_order": "won -> order",
    "order_to_fulfilled": "order -> fulfilled",
    "won_to_invoice": "won -> invoice (billing lag)",
    "invoice_to_sent": "invoice created -> sent",
    "invoice_to_paid": "invoice -> paid",
}


def _slowest_step(con: duckdb.DuckDBPyConnection) -> str | None:
    steps = ", ".join(f"'{s}'" for s in STEP_LABELS)
    row = con.execute(
        f"""
        select segment, median_days, completed_count, censored_count
        from marts.cycle_time_summary
        where dimension = 'overall' and segment in ({steps})
            and median_days is not null and not is_below_min_group_size
        order by median_days desc, segment
        limit 1
        """
    ).fetchone()
    if row is None:
        return None
    segment, median, completed, censored = row
    return (
        f"The slowest step is {STEP_LABELS[segment]}: median {median:.1f} days "
        f"(n = {completed:,} completed; {censored:,} not finished are left out of it)."
    )


def _slowest_billing_pipeline(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute(
        """
        select group_value, median_days, completed_count
        from marts.cycle_time_summary
        where segment = 'won_to_invoice' and dimension = 'pipeline'
            and median_days is not null and not is_below_min_group_size
        order by median_days desc, group_value
        """
    ).fetchall()
    if len(rows) < 2:
        return None
    (slow, slow_median, slow_n), others = rows[0], rows[1:]
    rest = ", ".join(f"{median:.1f} in {name} (n = {n:,})" for name, median, n in others)
    return (
        f"Invoicing after a win is slowest in the {slow} pipeline: median {slow_median:.1f} "
        f"days from won to invoice (n = {slow_n:,}), against {rest}."
    )


def _most_skipped_stage(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute(
        """
        with skipped as (
            select pipeline, trim(stage) as canonical_stage
            from marts.case_stage_progression,
                unnest(string_split(skipped_stages, ',')) as skipped_list(stage)
            where skipped_stages is not null
        ),
        skips as (
            select canonical_stage, count(*) as skipped_count
            from skipped
            group by canonical_stage
        ),
        exposed as (
            select canonical_stage, sum(deals_count) as deals_count
            from marts.stage_funnel
            group by canonical_stage
        )
        select skips.canonical_stage, skips.skipped_count, exposed.deals_count
        from skips
        inner join exposed on skips.canonical_stage = exposed.canonical_stage
        order by skips.skipped_count * 1.0 / exposed.deals_count desc, skips.canonical_stage
        limit 1
        """
    ).fetchone()
    if row is None:
        return None
    stage, skipped, deals = row
    total, with_skips = con.execute(
        "select count(*), count(*) filter (where has_skipped_stages) "
        "from marts.case_stage_progression"
    ).fetchone() or (0, 0)
    return (
        f"{stage} is the most skipped stage: {skipped:,} of {deals:,} deals in pipelines "
        f"with that stage ({skipped / deals:.1%}) went past it without entering it; "
        f"{with_skips / total:.1%} of all deals skipped at least one stage."
    )


def findings(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Plain-words sales findings for the demo summary (empty marts give no sentence)."""
    found = [
        _slowest_step(con),
        _slowest_billing_pipeline(con),
        _most_skipped_stage(con),
    ]
    return [sentence for sentence in found if sentence]
