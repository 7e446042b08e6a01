"""Certinia (formerly FinancialForce): the finance system of a business unit that sells in
Salesforce and bills in the same org (the single-platform model).

Certinia is a managed package on the Salesforce platform: its records are custom objects of the
org (namespace `c2g__`), read through the same REST / SOQL API as the CRM objects, and they
point to Account and Opportunity with real lookups. A won opportunity of a Certinia unit
(SimConfig.certinia_crms) is invoiced from the opportunity, not by a separate billing team:

- one sales invoice (c2g__codaInvoice__c, posted: InvoiceStatus "Complete") per won deal,
  created certinia_invoice_days after the win, with one line per opportunity product
  (c2g__codaInvoiceLineItem__c; a deal-level discount is a negative line) and the natively
  linked c2g__Account__c / c2g__Opportunity__c;
- a share of invoices gets a sales credit note (c2g__codaCreditNote__c) for part of its value,
  with a reason, before the customer pays;
- the customer pays the outstanding value around the due date (the Stripe unit's lateness
  rules); the cash entry (c2g__codaCashEntry__c, type Receipt) is dated that day, and the
  finance team matches it to the invoice certinia_match_lag_days later
  (c2g__codaCashMatchingHistory__c): only then does the invoice show PaymentStatus "Paid";
- a share of invoices (certinia_write_off_share) is never paid: the outstanding value is
  written off in cash matching (a matching row with a write-off value and no cash entry)
  certinia_write_off_days after the due date; the invoice then shows "Paid" too;
- a share of paid invoices (certinia_refund_share) is refunded in part: a credit note with a
  reason certinia_refund_days after the match, then a cash entry of type Refund for the credit
  note's value, matched to the credit note (a matching row with c2g__CreditNote__c) 1-5 days
  later;
- licence, module and support lines are recognised over a Revenue Management schedule
  (ffrr__RevenueSchedule__c, basis Days) from the invoice date for the deal's term (12, 24 or
  36 months); the deal's discount is split pro rata between scheduled and other lines.

Picklist values, the matching row's direct invoice / cash-entry lookups and write-off value,
and the revenue schedule's fields are modelled, not confirmed against a live org
(docs/certinia.md says what is and what is not).
Everything here uses its own random stream, so adding Certinia changes nothing else.
"""

from __future__ import annotations

import calendar
import math
import random
from dataclasses import dataclass
from typing import Any

from l2c_demo.simulator import clock
from l2c_demo.simulator.billing import _late_days
from l2c_demo.simulator.catalog import PRODUCTS
from l2c_demo.simulator.clock import DAY
from l2c_demo.simulator.config import SimConfig
from l2c_demo.simulator.crms import CRMS, salesforce_id
from l2c_demo.simulator.model import World
from l2c_demo.simulator.render_salesforce import product_id

Record = dict[str, Any]

CREDIT_NOTE_REASONS = ("Pricing Error", "Service Issue", "Returned Goods", "Goodwill")
# key prefixes of the package's custom objects in the demo org
PREFIXES = {
    "c2g__codaInvoice__c": "a2I",
    "c2g__codaInvoiceLineItem__c": "a2L",
    "c2g__codaCreditNote__c": "a2C",
    "c2g__codaCashEntry__c": "a2E",
    "c2g__codaCashMatchingHistory__c": "a2M",
    "ffrr__RevenueSchedule__c": "a3R",
}
# products sold as a term (licences, modules, support: PRODUCT_FAMILIES Software / Support),
# recognised over the term by a Revenue Management schedule; the rest (services) at once
SCHEDULED_PRODUCTS = frozenset({0, 1, 2, 3, 6})
SCHEDULE_TERMS = ((12, 0.7), (24, 0.2), (36, 0.1))  # months of a schedule, with their weights
_STAMPS = ("CreatedDate", "CreatedById", "LastModifiedDate", "SystemModstamp", "IsDeleted")
# Object API name -> (key prefix, custom object, field names), as salesforce_objects.OBJECTS
OBJECTS: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    "c2g__codaInvoice__c": (
        PREFIXES["c2g__codaInvoice__c"],
        True,
        (
            "Id",
            "Name",
            "OwnerId",
            "c2g__Account__c",
            "c2g__Opportunity__c",
            "c2g__InvoiceDate__c",
            "c2g__DueDate__c",
            "c2g__InvoiceStatus__c",
            "c2g__PaymentStatus__c",
            "c2g__InvoiceTotal__c",
            "c2g__NetTotal__c",
            "c2g__TaxTotal__c",
            "c2g__OutstandingValue__c",
            "c2g__CustomerReference__c",
            "CurrencyIsoCode",
            *_STAMPS,
        ),
    ),
    "c2g__codaInvoiceLineItem__c": (
        PREFIXES["c2g__codaInvoiceLineItem__c"],
        True,
        (
            "Id",
            "Name",
            "c2g__Invoice__c",
            "c2g__LineNumber__c",
            "c2g__Product__c",
            "c2g__LineDescription__c",
            "c2g__Quantity__c",
            "c2g__UnitPrice__c",
            "c2g__NetValue__c",
            "CurrencyIsoCode",
            *_STAMPS,
        ),
    ),
    "c2g__codaCreditNote__c": (
        PREFIXES["c2g__codaCreditNote__c"],
        True,
        (
            "Id",
            "Name",
            "c2g__Account__c",
            "c2g__Invoice__c",
            "c2g__Opportunity__c",
            "c2g__CreditNoteDate__c",
            "c2g__CreditNoteStatus__c",
            "c2g__CreditNoteReason__c",
            "c2g__CreditNoteTotal__c",
            "c2g__OutstandingValue__c",
            "CurrencyIsoCode",
            *_STAMPS,
        ),
    ),
    "c2g__codaCashEntry__c": (
        PREFIXES["c2g__codaCashEntry__c"],
        True,
        (
            "Id",
            "Name",
            "c2g__Account__c",
            "c2g__Date__c",
            "c2g__Type__c",
            "c2g__Status__c",
            "c2g__PaymentMethod__c",
            "c2g__Reference__c",
            "c2g__Value__c",
            "c2g__NetValue__c",
            "CurrencyIsoCode",
            *_STAMPS,
        ),
    ),
    "c2g__codaCashMatchingHistory__c": (
        PREFIXES["c2g__codaCashMatchingHistory__c"],
        True,
        (
            "Id",
            "Name",
            "c2g__Account__c",
            "c2g__CashEntry__c",
            "c2g__Invoice__c",
            "c2g__CreditNote__c",
            "c2g__Action__c",
            "c2g__MatchingDate__c",
            "c2g__DocumentValue__c",
            "c2g__WriteOffValue__c",
            "CurrencyIsoCode",
            *_STAMPS,
        ),
    ),
    # Revenue Management (modelled: the fields are not confirmed against a live org): one
    # schedule per invoice line recognised over time, by days between start and end (inclusive)
    "ffrr__RevenueSchedule__c": (
        PREFIXES["ffrr__RevenueSchedule__c"],
        True,
        (
            "Id",
            "Name",
            "ffrr__SalesInvoice__c",
            "ffrr__SalesInvoiceLineItem__c",
            "ffrr__StartDate__c",
            "ffrr__EndDate__c",
            "ffrr__RecognitionBasis__c",
            "ffrr__TotalRevenue__c",
            "CurrencyIsoCode",
            *_STAMPS,
        ),
    ),
}
FINANCE_USER = salesforce_id("005", 9100)  # the finance team's user in the demo org
# the refund's credit note, cash entry and matching row are numbered from here (+ invoice number)
REFUND_BASE = 1_000_000


@dataclass(frozen=True)
class CertiniaInvoice:
    number: int  # 1.. in creation order: SIN000001
    deal_id: int
    org_id: int
    currency: str
    created: int
    due: int
    # (description, quantity, net cents, product index: None for the discount line)
    lines: tuple[tuple[str, int, int, int | None], ...]
    total_cents: int
    credit_cents: int  # 0: no credit note
    credit_at: int | None
    credit_reason: str | None
    cash_at: int  # the customer's payment arrives
    matched_at: int  # the finance team matches it to the invoice
    # per line: months of its Revenue Management schedule, None: recognised at the invoice
    terms: tuple[int | None, ...] = ()
    # never paid: the outstanding value is written off in cash matching (no cash entry)
    written_off_at: int | None = None
    # refunded in part after payment: (credit note created, refund matched, cents, reason)
    refund: tuple[int, int, int, str] | None = None

    def paid_by(self, as_of: int) -> bool:
        """The customer's cash is matched to the invoice by as_of."""
        return self.written_off_at is None and self.matched_at <= as_of

    def written_off_by(self, as_of: int) -> bool:
        return self.written_off_at is not None and self.written_off_at <= as_of

    def schedule(self, k: int) -> tuple[int, int] | None:
        """The period of line k (0-based) as [start, end) unix times: from the invoice date's
        midnight UTC for its term's months (None: the line has no schedule)."""
        term = self.terms[k] if k < len(self.terms) else None
        if term is None:
            return None
        start = self.created - self.created % DAY
        return start, add_months(start, term)

    @property
    def cash_cents(self) -> int:
        return self.total_cents - self.credit_cents


def build_certinia(world: World, cfg: SimConfig) -> list[CertiniaInvoice]:
    """The Certinia invoices of every won deal of a Certinia business unit."""
    if not cfg.certinia_crms:
        return []
    rng = random.Random(f"certinia-{cfg.seed}")
    terms_rng = random.Random(f"certinia-schedules-{cfg.seed}")  # leaves `rng` as it was
    write_off_rng = random.Random(f"certinia-write-offs-{cfg.seed}")
    refund_rng = random.Random(f"certinia-refunds-{cfg.seed}")
    months, weights = zip(*SCHEDULE_TERMS, strict=True)
    drafts: list[tuple[int, int, dict[str, Any]]] = []
    won = [d for d in world.deals if d.crm in cfg.certinia_crms and d.final_won_time is not None]
    for deal in sorted(won, key=lambda d: (d.final_won_time or 0, d.id)):
        assert deal.final_won_time is not None
        lo, hi = cfg.certinia_invoice_days
        created = deal.final_won_time + int(rng.uniform(lo, hi) * DAY)
        due = created + cfg.due_days * DAY
        total = deal.won_value_cents
        lines: list[tuple[str, int, int, int | None]] = [
            (
                PRODUCTS[ln.product_index][0],
                ln.quantity,
                ln.net_cents(deal.final_won_time),
                ln.product_index,
            )
            for ln in deal.lines
        ]
        scheduled = [line[3] in SCHEDULED_PRODUCTS for line in lines]
        discount = sum(line[2] for line in lines) - total
        if discount:
            # the deal's discount, split pro rata between the lines recognised over the term
            # and the others, each part recognised as they are (so no month is negative)
            term_value = sum(line[2] for line, sch in zip(lines, scheduled, strict=True) if sch)
            value = sum(line[2] for line in lines)
            on_term = round(discount * term_value / value) if value else 0
            for part, sch in ((discount - on_term, False), (on_term, True)):
                if part:
                    lines.append(("Additional Discount", 1, -part, None))
                    scheduled.append(sch)
        credit, credit_at, reason = 0, None, None
        if rng.random() < cfg.certinia_credit_note_share:
            credit = int(total * rng.uniform(0.1, 0.3))
            credit_at = created + int(rng.uniform(2.0, 20.0) * DAY)
            reason = rng.choice(CREDIT_NOTE_REASONS)
        cash_at = max(due + int(_late_days(rng, cfg, deal.region) * DAY), created + 3600)
        if credit_at is not None:
            cash_at = max(cash_at, credit_at + 3600)
        lag_lo, lag_hi = cfg.certinia_match_lag_days
        matched_at = cash_at + int(rng.uniform(lag_lo, lag_hi) * DAY)
        term = terms_rng.choices(months, weights)[0]
        terms = tuple(term if sch else None for sch in scheduled)
        written_off_at = None
        if write_off_rng.random() < cfg.certinia_write_off_share:
            wo_lo, wo_hi = cfg.certinia_write_off_days
            written_off_at = due + int(write_off_rng.uniform(wo_lo, wo_hi) * DAY)
            if credit_at is not None:
                written_off_at = max(written_off_at, credit_at + 3600)
        refund = None
        draws = [refund_rng.random() for _ in range(5)]  # the same draws for every invoice
        if written_off_at is None and draws[0] < cfg.certinia_refund_share:
            rf_lo, rf_hi = cfg.certinia_refund_days
            refund_credit_at = matched_at + int((rf_lo + draws[1] * (rf_hi - rf_lo)) * DAY)
            refunded_at = refund_credit_at + int((1.0 + draws[2] * 4.0) * DAY)
            cents = max(1, int((total - credit) * (0.2 + draws[3] * 0.8)))
            reason = CREDIT_NOTE_REASONS[int(draws[4] * len(CREDIT_NOTE_REASONS))]
            refund = (refund_credit_at, refunded_at, cents, reason)
        facts = {
            "deal_id": deal.id,
            "org_id": deal.org_id,
            "currency": deal.currency,
            "created": created,
            "due": due,
            "lines": tuple(lines),
            "total_cents": total,
            "credit_cents": credit,
            "credit_at": credit_at,
            "credit_reason": reason,
            "cash_at": cash_at,
            "matched_at": matched_at,
            "terms": terms,
            "written_off_at": written_off_at,
            "refund": refund,
        }
        drafts.append((created, deal.id, facts))
    drafts.sort(key=lambda d: (d[0], d[1]))
    return [CertiniaInvoice(n, **facts) for n, (_, _, facts) in enumerate(drafts, start=1)]


def add_months(ts: int, months: int) -> int:
    """The same day and time `months` calendar months later (the month's last day at most)."""
    day = clock.from_unix(ts)
    years, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month0 + 1
    last = calendar.monthrange(year, month)[1]
    return clock.to_unix(day.replace(year=year, month=month, day=min(day.day, last)))


def _round(value: float) -> int:
    """Half away from zero, as SQL's round."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def month_slices(start: int, end: int, cents: int) -> list[tuple[str, int]]:
    """Straight line by the second over [start, end): (month, cents) per calendar month, each
    month's cents the rounded share up to its end minus the rounded share up to its start (the
    slices sum to `cents`), as Revenue Management's Days basis."""
    out = []
    month = clock.from_unix(start).replace(day=1, hour=0, minute=0, second=0)
    while clock.to_unix(month) < end:
        nxt = clock.from_unix(add_months(clock.to_unix(month), 1))
        lo, hi = max(start, clock.to_unix(month)), min(end, clock.to_unix(nxt))
        share = _round(cents * (hi - start) / (end - start))
        share -= _round(cents * (lo - start) / (end - start))
        out.append((month.date().isoformat(), share))
        month = nxt
    return out


def sf_datetime(ts: int | None) -> str | None:
    if ts is None:
        return None
    return f"{clock.v2(ts)[:-1]}.000+0000"  # type: ignore[index]


def _id(sobject: str, n: int) -> str:
    return salesforce_id(PREFIXES[sobject], n)


def invoice_id(number: int) -> str:
    return _id("c2g__codaInvoice__c", number)


def _stamps(created: int, modified: int) -> Record:
    return {
        "CreatedDate": sf_datetime(created),
        "CreatedById": FINANCE_USER,
        "LastModifiedDate": sf_datetime(modified),
        "SystemModstamp": sf_datetime(modified),
        "IsDeleted": False,
    }


def render_certinia(invoices: list[CertiniaInvoice], as_of: int) -> dict[str, list[Record]]:
    """The Certinia records of the org at as_of, by object API name."""
    crm = CRMS["salesforce"]
    out: dict[str, list[Record]] = {name: [] for name in OBJECTS}
    line_n = 0
    for inv in invoices:
        line_n += len(inv.lines)
        if inv.created > as_of:
            continue
        account, opportunity = crm.account_ref(inv.org_id), crm.deal_ref(inv.deal_id)
        inv_id, name = invoice_id(inv.number), f"SIN{inv.number:06d}"
        credited = inv.credit_at is not None and inv.credit_at <= as_of
        matched = inv.paid_by(as_of)
        written_off = inv.written_off_by(as_of)
        outstanding = inv.total_cents - (inv.credit_cents if credited else 0)
        # a write-off settles the outstanding value as cash would: Paid, nothing outstanding
        outstanding -= inv.cash_cents if matched or written_off else 0
        status = "Paid" if matched or written_off else ("Part Paid" if credited else "Unpaid")
        changes = [inv.created, inv.credit_at if credited else None]
        changes.append(inv.matched_at if matched else None)
        changes.append(inv.written_off_at if written_off else None)
        out["c2g__codaInvoice__c"].append(
            {
                "Id": inv_id,
                "Name": name,
                "OwnerId": FINANCE_USER,
                "c2g__Account__c": account,
                "c2g__Opportunity__c": opportunity,
                "c2g__InvoiceDate__c": clock.date(inv.created),
                "c2g__DueDate__c": clock.date(inv.due),
                "c2g__InvoiceStatus__c": "Complete",
                "c2g__PaymentStatus__c": status,
                "c2g__InvoiceTotal__c": inv.total_cents / 100.0,
                "c2g__NetTotal__c": inv.total_cents / 100.0,
                "c2g__TaxTotal__c": 0.0,
                "c2g__OutstandingValue__c": outstanding / 100.0,
                "c2g__CustomerReference__c": None,
                "CurrencyIsoCode": inv.currency,
                **_stamps(inv.created, max(t for t in changes if t is not None)),
            }
        )
        first_line = line_n - len(inv.lines)
        for k, (text, quantity, cents, product) in enumerate(inv.lines, start=1):
            period = inv.schedule(k - 1)
            if period is not None:
                out["ffrr__RevenueSchedule__c"].append(
                    {
                        "Id": _id("ffrr__RevenueSchedule__c", first_line + k),
                        "Name": f"RS{first_line + k:07d}",
                        "ffrr__SalesInvoice__c": inv_id,
                        "ffrr__SalesInvoiceLineItem__c": _id(
                            "c2g__codaInvoiceLineItem__c", first_line + k
                        ),
                        "ffrr__StartDate__c": clock.date(period[0]),
                        # inclusive: the last day of the term
                        "ffrr__EndDate__c": clock.date(period[1] - DAY),
                        "ffrr__RecognitionBasis__c": "Days",
                        "ffrr__TotalRevenue__c": cents / 100.0,
                        "CurrencyIsoCode": inv.currency,
                        **_stamps(inv.created, inv.created),
                    }
                )
            out["c2g__codaInvoiceLineItem__c"].append(
                {
                    "Id": _id("c2g__codaInvoiceLineItem__c", first_line + k),
                    "Name": f"{name}-{k}",
                    "c2g__Invoice__c": inv_id,
                    "c2g__LineNumber__c": k,
                    "c2g__Product__c": None if product is None else product_id(product),
                    "c2g__LineDescription__c": text,
                    "c2g__Quantity__c": float(quantity),
                    "c2g__UnitPrice__c": round(cents / quantity) / 100.0,
                    "c2g__NetValue__c": cents / 100.0,
                    "CurrencyIsoCode": inv.currency,
                    **_stamps(inv.created, inv.created),
                }
            )
        if credited:
            assert inv.credit_at is not None
            out["c2g__codaCreditNote__c"].append(
                {
                    "Id": _id("c2g__codaCreditNote__c", inv.number),
                    "Name": f"SCR{inv.number:06d}",
                    "c2g__Account__c": account,
                    "c2g__Invoice__c": inv_id,
                    "c2g__Opportunity__c": opportunity,
                    "c2g__CreditNoteDate__c": clock.date(inv.credit_at),
                    "c2g__CreditNoteStatus__c": "Complete",
                    "c2g__CreditNoteReason__c": inv.credit_reason,
                    "c2g__CreditNoteTotal__c": inv.credit_cents / 100.0,
                    "c2g__OutstandingValue__c": 0.0,
                    "CurrencyIsoCode": inv.currency,
                    **_stamps(inv.credit_at, inv.credit_at),
                }
            )
        if inv.written_off_at is None and inv.cash_at <= as_of:
            out["c2g__codaCashEntry__c"].append(
                {
                    "Id": _id("c2g__codaCashEntry__c", inv.number),
                    "Name": f"CSH{inv.number:06d}",
                    "c2g__Account__c": account,
                    "c2g__Date__c": clock.date(inv.cash_at),
                    "c2g__Type__c": "Receipt",
                    "c2g__Status__c": "Complete",
                    "c2g__PaymentMethod__c": "Electronic",
                    "c2g__Reference__c": name,
                    "c2g__Value__c": inv.cash_cents / 100.0,
                    "c2g__NetValue__c": inv.cash_cents / 100.0,
                    "CurrencyIsoCode": inv.currency,
                    **_stamps(inv.cash_at, inv.cash_at),
                }
            )
        if matched:
            out["c2g__codaCashMatchingHistory__c"].append(
                {
                    "Id": _id("c2g__codaCashMatchingHistory__c", inv.number),
                    "Name": f"CMH{inv.number:06d}",
                    "c2g__Account__c": account,
                    "c2g__CashEntry__c": _id("c2g__codaCashEntry__c", inv.number),
                    "c2g__Invoice__c": inv_id,
                    "c2g__CreditNote__c": None,
                    "c2g__Action__c": "Match",
                    "c2g__MatchingDate__c": clock.date(inv.matched_at),
                    "c2g__DocumentValue__c": inv.cash_cents / 100.0,
                    "c2g__WriteOffValue__c": 0.0,
                    "CurrencyIsoCode": inv.currency,
                    **_stamps(inv.matched_at, inv.matched_at),
                }
            )
        if written_off:
            assert inv.written_off_at is not None
            # a match without cash: the outstanding value goes to the write-off account
            out["c2g__codaCashMatchingHistory__c"].append(
                {
                    "Id": _id("c2g__codaCashMatchingHistory__c", inv.number),
                    "Name": f"CMH{inv.number:06d}",
                    "c2g__Account__c": account,
                    "c2g__CashEntry__c": None,
                    "c2g__Invoice__c": inv_id,
                    "c2g__CreditNote__c": None,
                    "c2g__Action__c": "Match",
                    "c2g__MatchingDate__c": clock.date(inv.written_off_at),
                    "c2g__DocumentValue__c": 0.0,
                    "c2g__WriteOffValue__c": inv.cash_cents / 100.0,
                    "CurrencyIsoCode": inv.currency,
                    **_stamps(inv.written_off_at, inv.written_off_at),
                }
            )
        if inv.refund is not None and inv.refund[0] <= as_of:
            _render_refund(out, inv, as_of, account, opportunity)
    return out


def _render_refund(
    out: dict[str, list[Record]], inv: CertiniaInvoice, as_of: int, account: str, opportunity: str
) -> None:
    """The refund of a paid invoice at as_of: its credit note (with the reason), then the cash
    entry of type Refund paying its value back and the matching row of that cash to the credit
    note. Flat model: the matching row names the credit note and its invoice directly."""
    assert inv.refund is not None
    credit_at, refunded_at, cents, reason = inv.refund
    n = REFUND_BASE + inv.number
    note_id = _id("c2g__codaCreditNote__c", n)
    refunded = refunded_at <= as_of
    out["c2g__codaCreditNote__c"].append(
        {
            "Id": note_id,
            "Name": f"SCR{n:07d}",
            "c2g__Account__c": account,
            "c2g__Invoice__c": invoice_id(inv.number),
            "c2g__Opportunity__c": opportunity,
            "c2g__CreditNoteDate__c": clock.date(credit_at),
            "c2g__CreditNoteStatus__c": "Complete",
            "c2g__CreditNoteReason__c": reason,
            "c2g__CreditNoteTotal__c": cents / 100.0,
            # the paid invoice leaves the credit on the account until the refund uses it
            "c2g__OutstandingValue__c": 0.0 if refunded else cents / 100.0,
            "CurrencyIsoCode": inv.currency,
            **_stamps(credit_at, refunded_at if refunded else credit_at),
        }
    )
    if not refunded:
        return
    cash_id = _id("c2g__codaCashEntry__c", n)
    out["c2g__codaCashEntry__c"].append(
        {
            "Id": cash_id,
            "Name": f"CSH{n:07d}",
            "c2g__Account__c": account,
            "c2g__Date__c": clock.date(refunded_at),
            "c2g__Type__c": "Refund",
            "c2g__Status__c": "Complete",
            "c2g__PaymentMethod__c": "Electronic",
            "c2g__Reference__c": f"SCR{n:07d}",
            "c2g__Value__c": cents / 100.0,
            "c2g__NetValue__c": cents / 100.0,
            "CurrencyIsoCode": inv.currency,
            **_stamps(refunded_at, refunded_at),
        }
    )
    out["c2g__codaCashMatchingHistory__c"].append(
        {
            "Id": _id("c2g__codaCashMatchingHistory__c", n),
            "Name": f"CMH{n:07d}",
            "c2g__Account__c": account,
            "c2g__CashEntry__c": cash_id,
            "c2g__Invoice__c": invoice_id(inv.number),
            "c2g__CreditNote__c": note_id,
            "c2g__Action__c": "Match",
            "c2g__MatchingDate__c": clock.date(refunded_at),
            "c2g__DocumentValue__c": cents / 100.0,
            "c2g__WriteOffValue__c": 0.0,
            "CurrencyIsoCode": inv.currency,
            **_stamps(refunded_at, refunded_at),
        }
    )


def line_ids(invoices: list[CertiniaInvoice]) -> dict[int, list[str]]:
    """Invoice number -> the ids of its lines (numbered over every invoice, as rendered)."""
    out: dict[int, list[str]] = {}
    n = 0
    for inv in invoices:
        out[inv.number] = [
            _id("c2g__codaInvoiceLineItem__c", n + k) for k in range(1, len(inv.lines) + 1)
        ]
        n += len(inv.lines)
    return out


def certinia_truth(world: World, invoices: list[CertiniaInvoice], as_of: int) -> Record:
    """Ground truth of the Certinia unit at as_of: its invoices with their natively linked
    case, credit notes, and the planted timings (days, from the simulator's own times); their
    lines, and the revenue they recognise per month: a line with a Revenue Management schedule
    over its term (straight line by the second, `ratable`, every month of the term, deferred
    months included), any other in full when its posted invoice is created (the month of its
    invoice date, `point_in_time`)."""
    deals = {d.id: d for d in world.deals}
    crm = CRMS["salesforce"]
    visible = [inv for inv in invoices if inv.created <= as_of]
    ids = line_ids(invoices)
    rows = []
    recognized = []
    for inv in visible:
        lines = [
            {
                "line_id": line_id,
                "description": text,
                "product_id": None if product is None else product_id(product),
                "quantity": quantity,
                "net": cents / 100.0,
            }
            for line_id, (text, quantity, cents, product) in zip(
                ids[inv.number], inv.lines, strict=True
            )
        ]
        month = clock.date(inv.created)[:8] + "01"  # type: ignore[index]
        for k, line in enumerate(lines):
            period = inv.schedule(k)
            slices = (
                [(month, round(line["net"] * 100))]
                if period is None
                else month_slices(period[0], period[1], round(line["net"] * 100))
            )
            recognized += [
                {
                    "line_id": line["line_id"],
                    "invoice_id": invoice_id(inv.number),
                    "month": slice_month,
                    "method": "point_in_time" if period is None else "ratable",
                    "amount": cents / 100.0,
                    "currency": inv.currency,
                    "period": None
                    if period is None
                    else [clock.v2(period[0]), clock.v2(period[1])],
                }
                for slice_month, cents in slices
            ]
        deal = deals[inv.deal_id]
        assert deal.final_won_time is not None
        matched = inv.paid_by(as_of)
        written_off = inv.written_off_by(as_of)
        rows.append(
            {
                "invoice_id": invoice_id(inv.number),
                "case_id": f"salesforce:{crm.deal_ref(inv.deal_id)}",
                "total": inv.total_cents / 100.0,
                "currency": inv.currency,
                "won_to_invoice_days": (inv.created - deal.final_won_time) / DAY,
                "credit_note": (
                    {"amount": inv.credit_cents / 100.0, "reason": inv.credit_reason}
                    if inv.credit_at is not None and inv.credit_at <= as_of
                    else None
                ),
                "cash_at": clock.v2(inv.cash_at)
                if inv.written_off_at is None and inv.cash_at <= as_of
                else None,
                "written_off": (
                    {"at": clock.v2(inv.written_off_at), "amount": inv.cash_cents / 100.0}
                    if written_off
                    else None
                ),
                "paid_at": clock.v2(inv.matched_at) if matched else None,
                # refunded in part: the credit note (with its reason) and the refund's time
                "refund": (
                    {
                        "amount": inv.refund[2] / 100.0,
                        "reason": inv.refund[3],
                        "credit_note_at": clock.v2(inv.refund[0]),
                        "refunded_at": clock.v2(inv.refund[1]) if inv.refund[1] <= as_of else None,
                    }
                    if inv.refund is not None and inv.refund[0] <= as_of
                    else None
                ),
                "invoice_to_paid_days": (inv.matched_at - inv.created) / DAY if matched else None,
                "match_lag_days": (inv.matched_at - inv.cash_at) / DAY if matched else None,
                "lines": lines,
            }
        )
    return {
        "invoices": rows,
        "won_deals_invoiced": len({inv.deal_id for inv in visible}),
        "credit_notes": sum(1 for r in rows if r["credit_note"] is not None),
        "written_off": sum(1 for r in rows if r["written_off"] is not None),
        "refunds": sum(1 for r in rows if r["refund"] and r["refund"]["refunded_at"]),
        "recognized_revenue": recognized,
    }
