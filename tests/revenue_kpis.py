"""Revenue recognition KPIs recomputed in plain Python from the raw Stripe and Pipedrive
payloads a fake API serves (tests/test_subscriptions.py compares them with the marts).

The rules, as docs/data-model.md states them:
- a finalized, non-void invoice's total is allocated to its lines in proportion to their
  amounts, lines ordered by id, with cumulative rounding (half away from zero);
- a line with a service period (period.end > period.start) is recognised straight line by
  the second: a month's slice = round(allocated x seconds up to the slice end / period
  seconds) - round(the same up to the slice start); a line without one in full at the
  invoice's finalization;
- reporting amounts = round(minor x the fx_rates rate of the invoice's creation date).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from test_kpis_independent import Fx, _day, _round

Record = dict[str, Any]


@dataclass(frozen=True)
class Slice:
    invoice_id: str
    line_id: str
    month: date
    method: str  # ratable | point_in_time
    end: int  # unix seconds: when the slice is recognised in full
    minor: int  # invoice currency
    reporting_minor: int
    subscription: str | None


def month_of(ts: int) -> date:
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def unix(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


def recognised(invoice: Record) -> bool:
    return invoice["status"] != "void" and invoice["status_transitions"]["finalized_at"] is not None


def allocate(total: int, amounts: list[int]) -> list[int]:
    """The total split over the amounts pro rata, cumulative rounding (sums to the total)."""
    lines_total = sum(amounts)
    if lines_total == 0:
        return list(amounts)
    out, cumulative = [], 0
    for amount in amounts:
        before = cumulative
        cumulative += amount
        out.append(_round(total * cumulative / lines_total) - _round(total * before / lines_total))
    return out


def schedule(invoices: list[Record], fx: Fx) -> list[Slice]:
    """Every slice of every line of the finalized, non-void invoices."""
    out: list[Slice] = []
    for inv in invoices:
        if not recognised(inv):
            continue
        finalized = inv["status_transitions"]["finalized_at"]
        rate = fx.rate(inv["currency"], _day(inv["created"]))
        lines = sorted(inv["lines"]["data"], key=lambda line: line["id"])
        shares = allocate(inv["total"], [line["amount"] for line in lines])
        for line, allocated in zip(lines, shares, strict=True):
            period = line.get("period") or {}
            start, end = period.get("start"), period.get("end")
            sub = line.get("subscription")
            if start is None or end is None or end <= start:
                out.append(
                    Slice(
                        inv["id"],
                        line["id"],
                        month_of(finalized),
                        "point_in_time",
                        finalized,
                        allocated,
                        _round(allocated * rate),
                        sub,
                    )
                )
                continue
            month = month_of(start)
            while unix(month) < end:
                lo, hi = max(start, unix(month)), min(end, unix(next_month(month)))
                minor = _round(allocated * (hi - start) / (end - start)) - _round(
                    allocated * (lo - start) / (end - start)
                )
                out.append(
                    Slice(
                        inv["id"],
                        line["id"],
                        month,
                        "ratable",
                        hi,
                        minor,
                        _round(minor * rate),
                        sub,
                    )
                )
                month = next_month(month)
    return out


def percentile(values: list[int], fraction: float) -> float:
    """percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lo, hi = math.floor(position), math.ceil(position)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (position - lo)
