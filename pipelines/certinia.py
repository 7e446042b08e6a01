"""Certinia source (formerly FinancialForce): the accounting package's objects, read from the
Salesforce org it is installed in through the same REST / SOQL API as the CRM objects
(pipelines.salesforce: same OAuth, paging, retries; `connect` and `incremental_resource`).

Resources (table <- object; all merge on Id, incremental on SystemModstamp):
    sales_invoices <- c2g__codaInvoice__c, sales_invoice_lines <- c2g__codaInvoiceLineItem__c,
    credit_notes <- c2g__codaCreditNote__c, cash_entries <- c2g__codaCashEntry__c,
    cash_matching_history <- c2g__codaCashMatchingHistory__c,
    revenue_schedules <- ffrr__RevenueSchedule__c (Revenue Management, when installed).
An object the org does not have (a package is not installed, or an edition without it) is
skipped: the source reads `/sobjects` first. The invoice's account and opportunity are native
lookups (c2g__Account__c, c2g__Opportunity__c): the warehouse links invoices to deals through
them, with no rule. docs/certinia.md lists the fields used and what Certinia cannot provide.

Configuration ([sources.certinia] or environment; usually the same org and connected app as
[sources.salesforce], with read access to the c2g__ objects):
    SOURCES__CERTINIA__LOGIN_URL, SOURCES__CERTINIA__CLIENT_ID, SOURCES__CERTINIA__CLIENT_SECRET
  or
    SOURCES__CERTINIA__ACCESS_TOKEN with SOURCES__CERTINIA__INSTANCE_URL
  optional: API_VERSION (62.0), PAGE_SIZE (2000), REQUEST_TIMEOUT, MAX_ATTEMPTS,
  CONCURRENT_REQUESTS (8), LOOKBACK_SECONDS (300).
"""

from __future__ import annotations

import dlt
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from pipelines.salesforce import OPT_DATE, REQ_DATE, STAMPED, connect, incremental_resource
from pipelines.validation import OPT_ID, OPT_MONEY, OPT_RFC3339, REQ_ID, REQ_MONEY, RowSpec

SYSTEM = "certinia"
_STAMPS = ("CreatedDate", "CreatedById", "LastModifiedDate", "SystemModstamp")
STAMPED_MODIFIED = {**STAMPED, "LastModifiedDate": OPT_RFC3339}

# table -> (object, fields read, checks: ids, money and timestamps the warehouse relies on)
OBJECTS: dict[str, tuple[str, tuple[str, ...], RowSpec]] = {
    "sales_invoices": (
        "c2g__codaInvoice__c",
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
            "c2g__OutstandingValue__c",
            "CurrencyIsoCode",
            *_STAMPS,
        ),
        RowSpec(
            "sales_invoices",
            {
                **STAMPED_MODIFIED,
                "c2g__Account__c": REQ_ID,
                "c2g__Opportunity__c": OPT_ID,
                "c2g__InvoiceDate__c": OPT_DATE,
                "c2g__DueDate__c": OPT_DATE,
                "c2g__InvoiceTotal__c": REQ_MONEY,
                "c2g__NetTotal__c": OPT_MONEY,
                "c2g__OutstandingValue__c": OPT_MONEY,
            },
            "Id",
        ),
    ),
    "sales_invoice_lines": (
        "c2g__codaInvoiceLineItem__c",
        (
            "Id",
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
        RowSpec(
            "sales_invoice_lines",
            {
                **STAMPED,
                "c2g__Invoice__c": REQ_ID,
                "c2g__Product__c": OPT_ID,
                "c2g__Quantity__c": OPT_MONEY,
                "c2g__UnitPrice__c": OPT_MONEY,
                # the revenue recognised: a line without its value is rejected, not read as 0
                "c2g__NetValue__c": REQ_MONEY,
            },
            "Id",
        ),
    ),
    "credit_notes": (
        "c2g__codaCreditNote__c",
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
        RowSpec(
            "credit_notes",
            {
                **STAMPED_MODIFIED,
                "c2g__Account__c": REQ_ID,
                "c2g__Invoice__c": OPT_ID,
                "c2g__CreditNoteDate__c": OPT_DATE,
                "c2g__CreditNoteTotal__c": REQ_MONEY,
            },
            "Id",
        ),
    ),
    "cash_entries": (
        "c2g__codaCashEntry__c",
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
            "CurrencyIsoCode",
            *_STAMPS,
        ),
        RowSpec(
            "cash_entries",
            {**STAMPED_MODIFIED, "c2g__Date__c": OPT_DATE, "c2g__Value__c": REQ_MONEY},
            "Id",
        ),
    ),
    "cash_matching_history": (
        "c2g__codaCashMatchingHistory__c",
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
        RowSpec(
            "cash_matching_history",
            {
                **STAMPED_MODIFIED,
                # none on a write-off without cash
                "c2g__CashEntry__c": OPT_ID,
                "c2g__Invoice__c": OPT_ID,
                # a refund cash entry matched to a credit note
                "c2g__CreditNote__c": OPT_ID,
                "c2g__MatchingDate__c": OPT_DATE,
                "c2g__DocumentValue__c": REQ_MONEY,
                "c2g__WriteOffValue__c": OPT_MONEY,
            },
            "Id",
        ),
    ),
    # Revenue Management (ffrr__, modelled: fields not confirmed against a live org): the
    # period over which an invoice line's revenue is recognised
    "revenue_schedules": (
        "ffrr__RevenueSchedule__c",
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
        RowSpec(
            "revenue_schedules",
            {
                **STAMPED_MODIFIED,
                "ffrr__SalesInvoiceLineItem__c": REQ_ID,
                # a schedule without its period would recognise nothing: rejected
                "ffrr__StartDate__c": REQ_DATE,
                "ffrr__EndDate__c": REQ_DATE,
                "ffrr__TotalRevenue__c": OPT_MONEY,
            },
            "Id",
        ),
    ),
}


@dlt.source(name="certinia", max_table_nesting=1)
def certinia_source(
    login_url: str = "https://login.salesforce.com",
    client_id: str | None = None,
    client_secret: TSecretStrValue | None = None,
    access_token: TSecretStrValue | None = None,
    instance_url: str | None = None,
    api_version: str = "62.0",
    page_size: int = 2000,
    request_timeout: float = 30.0,
    max_attempts: int = 6,
    concurrent_requests: int = 8,
    lookback_seconds: float = 300.0,
) -> list[DltResource]:
    conn = connect(
        SYSTEM,
        login_url,
        client_id,
        client_secret,
        access_token,
        instance_url,
        api_version,
        page_size,
        request_timeout,
        max_attempts,
        concurrent_requests,
    )
    return [
        incremental_resource(conn, spec, sobject, fields, lookback_seconds)
        for sobject, fields, spec in OBJECTS.values()
    ]
