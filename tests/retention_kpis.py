"""Plain-Python MRR movements and cohort retention from spans of constant MRR, the rules of
mrr_movements and revenue_retention_cohorts (of one source system) stated without SQL, and the
one MRR movement classifier of the tests (tests/test_subscriptions.py, test_zendesk_sell.py):

- a span (customer, from, to, reporting cents) is in effect at instant t when from < t <= to
  (to None = still running); a customer's MRR at a month's end is the sum of its spans then;
- months are the complete calendar months (UTC) from the first span's month to as_of;
- a customer's first paying month is the first month at whose end its MRR is above 0; its
  cohort is that month's quarter; for k >= 1 it is followed to the end of the k-th month after
  (0 when it pays nothing then): expansion (up), contraction (down, above 0), churn (to 0);
- a (cohort, k) row exists only when month k has ended for every customer of the cohort.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timezone
from typing import Any

Span = tuple[str, int, int | None, int]  # customer, valid from, valid to, reporting cents


def add_months(ts: int, months: int) -> int:
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def month_end_mrr(spans: list[Span], as_of: int) -> list[tuple[date, dict[str, int]]]:
    """(month start, {customer: MRR cents at the month's end}) per complete month."""
    first = datetime.fromtimestamp(min(start for _, start, _, _ in spans), tz=timezone.utc)
    month = int(datetime(first.year, first.month, 1, tzinfo=timezone.utc).timestamp())
    out = []
    while (end := add_months(month, 1)) <= as_of:
        now: dict[str, int] = {}
        for customer, start, ended, mrr in spans:
            if start < end and (ended is None or ended >= end):
                now[customer] = now.get(customer, 0) + mrr
        out.append((datetime.fromtimestamp(month, tz=timezone.utc).date(), now))
        month = end
    return out


def mrr_movements(spans: list[Span], as_of: int) -> list[tuple[Any, ...]]:
    """(month_start, starting, new, expansion, reactivation, contraction, churn, ending,
    paying customers, ending ARR) per complete month, money in reporting units."""
    previous: dict[str, int] = {}
    ever: set[str] = set()
    rows = []
    for month, now in month_end_mrr(spans, as_of):
        moves = dict.fromkeys(("new", "expansion", "reactivation", "contraction", "churn"), 0)
        for customer in set(now) | set(previous):
            before, after = previous.get(customer, 0), now.get(customer, 0)
            if before == 0 and after > 0:
                moves["reactivation" if customer in ever else "new"] += after
            elif before > 0 and after == 0:
                moves["churn"] += before
            elif after > before:
                moves["expansion"] += after - before
            elif after < before:
                moves["contraction"] += before - after
        starting, ending = sum(previous.values()), sum(now.values())
        assert ending == starting + sum(moves.values()) - 2 * (
            moves["contraction"] + moves["churn"]
        )
        rows.append(
            (
                month,
                starting / 100,
                *(moves[k] / 100 for k in ("new", "expansion", "reactivation")),
                *(moves[k] / 100 for k in ("contraction", "churn")),
                ending / 100,
                sum(1 for v in now.values() if v > 0),
                12 * ending / 100,
            )
        )
        ever |= {c for c, v in now.items() if v > 0}
        previous = now
    return rows


def _quarter(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def cohort_retention(spans: list[Span], as_of: int, min_group: int) -> list[tuple[Any, ...]]:
    """revenue_retention_cohorts' rows of one source system: (cohort_quarter, k,
    cohort_customers, retained_customers, starting, expansion, contraction, churn, ending,
    nrr, grr, is_below_min_group_size), money in reporting units."""
    months = month_end_mrr(spans, as_of)
    first: dict[str, int] = {}
    for index, (_, now) in enumerate(months):
        for customer, mrr in now.items():
            if mrr > 0:
                first.setdefault(customer, index)
    cohorts: dict[date, list[str]] = {}
    for customer, index in first.items():
        cohorts.setdefault(_quarter(months[index][0]), []).append(customer)
    rows = []
    for quarter, members in cohorts.items():
        k = 1
        while all(first[c] + k < len(months) for c in members):
            totals = dict.fromkeys(("start", "expansion", "contraction", "churn", "end"), 0)
            retained = 0
            for customer in members:
                start = months[first[customer]][1][customer]
                end = months[first[customer] + k][1].get(customer, 0)
                totals["start"] += start
                totals["end"] += end
                retained += end > 0
                if end > start:
                    totals["expansion"] += end - start
                elif 0 < end < start:
                    totals["contraction"] += start - end
                elif end == 0:
                    totals["churn"] += start
            base = totals["start"]
            rows.append(
                (
                    quarter,
                    k,
                    len(members),
                    retained,
                    *(totals[key] / 100 for key in totals),
                    totals["end"] / base if base else None,
                    (base - totals["contraction"] - totals["churn"]) / base if base else None,
                    len(members) < min_group,
                )
            )
            k += 1
    return rows
