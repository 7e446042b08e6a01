"""Simulation parameters: every planted truth of the demo company is a field here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

DEFAULT_AS_OF = datetime(2026, 6, 30, tzinfo=timezone.utc)


@dataclass(frozen=True)
class SimConfig:
    """Knobs of the demo company. Defaults describe the documented company."""

    seed: int = 42
    n_deals: int = 3000
    as_of: datetime = DEFAULT_AS_OF
    history_days: int = 912  # deals are created from as_of - history_days ...
    future_days: int = 90  # ... up to as_of + future_days (revealed by advance())

    # people
    n_reps: int = 12
    team_names: tuple[str, ...] = ("Team Atlas", "Team Boreal", "Team Cobalt")
    high_discount_rep_index: int = 4  # 0-based index into the reps (rep id = index + 1)
    high_discount_mean: float = 0.25
    normal_discount_range: tuple[float, float] = (0.03, 0.10)

    # regions and money
    regions: tuple[str, ...] = ("EMEA", "North America", "APAC", "LATAM")
    region_weights: tuple[float, ...] = (0.45, 0.30, 0.15, 0.10)
    currencies: tuple[str, ...] = ("EUR", "USD", "GBP")
    currency_weights: tuple[float, ...] = (0.80, 0.15, 0.05)
    value_median: float = 18000.0
    value_sigma: float = 0.9
    value_min: float = 2000.0
    value_max: float = 150000.0

    # pipeline behaviour
    expansion_share: float = 0.25
    early_loss_hazard: float = 0.10  # per pre-proposal stage
    win_prob_quoted: float = 0.45  # win probability of a quoted deal without quick follow-up
    follow_up_days: float = 3.0
    follow_up_share: float = 0.55  # quotes followed up within follow_up_days
    follow_up_win_uplift: float = 0.15
    skip_stage_share: float = 0.28  # planned; realised share is lower (early losses)
    backward_move_share: float = 0.13  # planned; only realised by deals reaching Negotiation
    revision_share: float = 0.22  # extra revisions on top of those caused by backward moves
    reopen_share: float = 0.02  # of lost deals
    owner_change_share: float = 0.05
    stuck_share: float = 0.04
    api_change_share: float = 0.10
    deal_discount_share: float = 0.10
    headline_discount_filled_share: float = 0.85
    lead_share: float = 0.70
    unconverted_leads_per_deal: float = 0.6

    # billing
    handoff_median_days: float = 7.0
    slow_handoff_pipeline: str = "Expansion"
    slow_handoff_median_days: float = 21.0
    slow_paying_region: str = "APAC"
    slow_region_late_days: tuple[float, float] = (25.0, 40.0)
    due_days: int = 30
    missing_metadata_share: float = 0.08
    split_invoice_share: float = 0.10
    split_invoice_min_value: float = 50000.0
    void_reissue_share: float = 0.03
    partial_payment_share: float = 0.10
    uncollectible_share: float = 0.01
    customer_org_metadata_share: float = 0.90
    link_rule_window_days: int = 60

    # approvals and contracts (l2c_demo.simulator.approvals)
    approval_threshold_pct: float = 15.0  # seeds/discount_policy.csv: above policy from 15%
    approval_delay_median_days: float = 0.8  # at the threshold; +10% per discount point above
    approval_reject_base: float = 0.10  # rejection share at the threshold; +2 points per point
    slow_approval_loss_factor: float = 3.0  # approvals of deals that end lost wait this much longer
    rescue_request_share: float = 0.5  # lost deals ending with a rejected deeper discount
    contract_sign_median_days: float = 3.0
    slow_signature_region: str = "North America"
    slow_signature_median_days: float = 12.0
    # the lead phase (l2c_demo.simulator.leadphase): lead owners make a first customer-facing
    # contact (median first_contact_median_hours after the lead's creation; one slow and one
    # fast rep), qualify leads (median qualification_median_days after the contact, longer for
    # slow_qualification_source), some unconverted leads are reassigned; a deal reassigned to
    # another rep sits idle for a handover (median handover_delay_days) before it moves on
    first_contact_median_hours: float = 8.0
    slow_contact_rep_index: int = 2  # 0-based (rep id = index + 1)
    slow_contact_median_hours: float = 72.0
    fast_contact_rep_index: int = 7
    fast_contact_median_hours: float = 1.0
    qualification_median_days: float = 2.0
    slow_qualification_source: str = "Import"
    slow_qualification_median_days: float = 10.0
    qualified_unconverted_share: float = 0.35  # unconverted leads qualified anyway
    lead_reassign_share: float = 0.15  # of unconverted leads, after the first contact
    handover_delay_days: float = 20.0
    # subscriptions (0 = none: the company sells one-off deals only). A won deal is sold with a
    # subscription with this probability; it bills a recurring product automatically, renews
    # or churns at each term end, and its failed payments are retried (see subscriptions.py)
    subscription_share: float = 0.0
    # Zendesk Sell recurring deals (0 = none): a won Sell deal is a recurring contract (deal
    # custom fields) renewed through a Renewals pipeline with this probability; contracts in
    # sell_churn_heavy_region churn most at term ends (see sell_renewals.py)
    sell_recurring_share: float = 0.0
    sell_churn_probability: float = 0.15
    sell_churn_heavy_region: str = "North America"
    sell_churn_heavy_probability: float = 0.55
    sell_term_months: tuple[tuple[int, float], ...] = ((3, 0.7), (12, 0.3))  # term, weight
    monthly_share: float = 0.55  # the rest bill yearly; yearly ones may commit to 2-3 years
    churn_heavy_product: str = "Analytics Module"
    churn_heavy_probability: float = 0.55  # per term end, vs churn_probability otherwise
    churn_probability: float = 0.10
    payment_failure_share: float = 0.12  # first attempt of a subscription invoice fails
    poor_recovery_region: str = "LATAM"
    poor_recovery_retry_success: float = 0.15  # per retry, vs retry_success otherwise
    retry_success: float = 0.65
    retry_days: tuple[int, ...] = (3, 5, 7)  # days between attempts after a failure
    refund_share: float = 0.04  # of paid subscription invoices
    credit_note_share: float = 0.05
    # subscription changes, dunning and disputes (subscriptions.py)
    change_share: float = 0.3  # subscriptions changing quantity once during their first term
    # of the changes: more seats now (prorated); else fewer seats from a period start (a
    # subscription schedule's next phase)
    change_expansion_share: float = 0.5
    dispute_share: float = 0.02  # of the paid subscription invoices: the charge is disputed
    # a cohort effect (subscriptions.py, own random stream): subscriptions starting in the
    # quarter expansion_cohort_quarters_back quarters before as_of's quarter expand in their
    # first period with probability cohort_expansion_share (those not planned to change
    # anyway), so that start quarter's customers retain the most revenue (0 = no plant)
    expansion_cohort_quarters_back: int = 5
    cohort_expansion_share: float = 0.8
    dispute_win_share: float = 0.5
    # days after the due date a reminder email goes out while a send_invoice invoice is unpaid
    # (dunning.py; no random draws). () = no reminders (the default: the demo job plants none)
    reminder_days: tuple[int, ...] = ()
    # revenue recognition (billing.py, subscriptions.py): deals of `late_billing_region` are
    # billed (first invoice, subscription start) this many days later than the others (0 =
    # no planted delay); a won deal billed in one invoice is over- or under-invoiced by 5-15 %
    # with probability amount_mismatch_share (its own random stream)
    late_billing_region: str = "North America"
    late_billing_extra_days: float = 0.0
    amount_mismatch_share: float = 0.0
    # a subscription invoice's line sent without its service period (own random stream): the
    # warehouse recognises it at the invoice date and warns (service_period_missing)
    missing_service_period_share: float = 0.0
    # an invoice (one-off or subscription) billed in more lines than Stripe embeds in the
    # invoice (10; own random stream): its amount is spread over 11-240 lines of the same
    # products, so the loader must page the rest from the list's url (billing.plant_many_lines)
    many_line_invoice_share: float = 0.0

    # business units: each customer account (org) is sold to by one unit, with its own CRM and
    # reps (rep i works in crms[i % len(crms)]); every unit bills through Stripe.
    # Systems: see l2c_demo.simulator.crms. Default: a single unit on Pipedrive.
    crms: tuple[str, ...] = ("pipedrive",)
    crm_weights: tuple[float, ...] = (1.0,)
    # Certinia (l2c_demo.simulator.certinia): the business units (CRMs; Certinia lives on the
    # Salesforce platform, so only "salesforce") that bill in Certinia instead of Stripe. Their
    # invoices are created from the won opportunity and natively linked to it; a share gets a
    # credit note; cash is matched to the invoice some days after it arrives.
    certinia_crms: tuple[str, ...] = ()
    certinia_invoice_days: tuple[float, float] = (0.2, 2.0)  # win -> invoice
    certinia_credit_note_share: float = 0.12
    certinia_match_lag_days: tuple[float, float] = (2.0, 8.0)  # cash received -> matched
    # a share of Certinia invoices is never paid: the finance team writes the outstanding value
    # off in cash matching (a write-off without cash) certinia_write_off_days after the due date
    certinia_write_off_share: float = 0.05
    certinia_write_off_days: tuple[float, float] = (60.0, 120.0)
    # a share of paid Certinia invoices is refunded in part: a credit note with a reason
    # certinia_refund_days after the match, then a cash entry of type Refund for its value,
    # matched to the credit note 1-5 days later
    certinia_refund_share: float = 0.06
    certinia_refund_days: tuple[float, float] = (5.0, 40.0)

    extra: dict[str, Any] = field(default_factory=dict)

    def as_params(self) -> dict[str, Any]:
        """JSON-serialisable parameter dump (for the ground truth)."""
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
