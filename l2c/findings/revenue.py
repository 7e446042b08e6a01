"""Plain-words findings of the revenue marts (discounts, payments, follow-ups, DSO)."""

from __future__ import annotations

import duckdb


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _discount_finding(con: duckdb.DuckDBPyConnection) -> str | None:
    top = con.execute(
        "select rep_key, rep_name, discount_pct, win_rate, closed_deals "
        "from marts.rep_performance where discount_pct_rank = 1 order by rep_key limit 1"
    ).fetchone()
    if top is None or top[3] is None:
        return None
    rep_key, name, discount, win_rate, closed = top
    rest = con.execute(
        "select sum(won_deals), sum(closed_deals) from marts.rep_performance where rep_key <> ?",
        [rep_key],
    ).fetchone()
    if rest is None or not rest[1]:
        return None
    rest_rate = rest[0] / rest[1]
    return (
        f"{name or rep_key} gives the biggest discounts ({discount:.1f}% off list, value "
        f"weighted) and wins {_pct(win_rate)} of {closed} closed deals, against "
        f"{_pct(rest_rate)} for the other reps."
    )


def _payment_finding(con: duckdb.DuckDBPyConnection) -> str | None:
    slow = con.execute(
        "select region, median_days_late, on_time_share, paid_invoices "
        "from marts.region_performance where days_late_rank = 1 order by region limit 1"
    ).fetchone()
    if slow is None:
        return None
    region, median_late, on_time, paid = slow
    others = con.execute(
        "select sum(paid_on_time_invoices), sum(paid_invoices) from marts.region_performance "
        "where region <> ?",
        [region],
    ).fetchone()
    tail = ""
    if others is not None and others[1]:
        tail = f" (other regions: {_pct(others[0] / others[1])} on time)"
    return (
        f"{region} pays latest: invoices are paid a median {median_late:.1f} days after the "
        f"due date and {_pct(on_time)} of {paid} paid invoices were on time{tail}."
    )


def _follow_up_finding(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = dict(
        (group, (rate, closed, days))
        for group, rate, closed, days in con.execute(
            "select follow_up_group, win_rate, closed_deals, follow_up_within_days "
            "from marts.follow_up_effect"
        ).fetchall()
    )
    with_fu, without = rows.get("followed_up"), rows.get("not_followed_up")
    if not with_fu or not without or with_fu[0] is None or without[0] is None:
        return None
    return (
        f"Deals whose last quote got a customer follow-up within {with_fu[2]:g} days won "
        f"{_pct(with_fu[0])} ({with_fu[1]} closed), those without {_pct(without[0])} "
        f"({without[1]} closed)."
    )


def _dso_finding(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute(
        "select period_month, dso, best_possible_dso from marts.receivables_monthly "
        "where dimension = 'company' and dso is not null order by period_month desc limit 1"
    ).fetchone()
    if row is None:
        return None
    month, dso, best = row
    return (
        f"DSO in {month:%B %Y}: {dso:.1f} days, of which {dso - best:.1f} days are "
        f"delinquency (best possible {best:.1f})."
    )


def findings(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Short sentences for the demo summary; a finding whose marts are empty is left out."""
    found = (
        _discount_finding(con),
        _payment_finding(con),
        _follow_up_finding(con),
        _dso_finding(con),
    )
    return [sentence for sentence in found if sentence]
