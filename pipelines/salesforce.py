"""Salesforce source: SOQL over the REST API (`/services/data/vXX.X/query`, `nextRecordsUrl`
paging), OAuth 2.0 client credentials or a ready access token.

Resources (table <- object; all merge on Id unless said otherwise):
    users <- User, user_roles <- UserRole, accounts <- Account, contacts <- Contact,
    leads <- Lead, opportunities <- Opportunity, opportunity_line_items <- OpportunityLineItem,
    quotes <- Quote, quote_line_items <- QuoteLineItem, cpq_quotes <- SBQQ__Quote__c,
    orders <- Order, tasks <- Task, process_instances <- ProcessInstance (approval requests),
    contracts <- Contract, campaigns <- Campaign, campaign_members <- CampaignMember,
    products <- Product2 (Family = product category): incremental on SystemModstamp;
    opportunity_history <- OpportunityHistory, opportunity_field_history <-
    OpportunityFieldHistory, lead_history <- LeadHistory (lead Status and Owner changes),
    process_instance_steps <- ProcessInstanceStep (approval history):
    incremental on CreatedDate (history rows never change);
    record_types <- RecordType (Opportunity record types = pipelines), opportunity_stages <-
    OpportunityStage, stage_picklist_values <- the UI API StageName values of each record type
    (key RecordTypeId + value): small, re-read on every run.
Objects the org does not have (e.g. SBQQ__Quote__c without Salesforce CPQ, Order without
orders enabled) are skipped: the source reads `/sobjects` first.

Shaping (otherwise records load as the API returns them): the per-record `attributes` are
dropped; Opportunity carries `LastOpenStageName`, the StageName of its newest OpportunityHistory
row in an open stage (a child subquery: the stage a closed opportunity was closed in);
OpportunityHistory carries its opportunity's `Opportunity.RecordTypeId` (relationship field);
OpportunityFieldHistory and LeadHistory OldValue/NewValue (anyType) are loaded as text;
ProcessInstanceStep carries its request's `ProcessInstance.TargetObjectId` (the approved
record). Contract has no standard opportunity field: the org's lookup `Opportunity__c` is read
(see docs/salesforce.md).

Configuration (dlt config/secrets or environment):
    SOURCES__SALESFORCE__LOGIN_URL        the org's My Domain URL (client credentials flow)
    SOURCES__SALESFORCE__CLIENT_ID        consumer key of the connected / external client app
    SOURCES__SALESFORCE__CLIENT_SECRET    its consumer secret
  or
    SOURCES__SALESFORCE__ACCESS_TOKEN     a ready OAuth access token (not refreshed), with
    SOURCES__SALESFORCE__INSTANCE_URL     the org's instance URL (default: LOGIN_URL)
  optional: API_VERSION (62.0), PAGE_SIZE (batchSize, default 2000), REQUEST_TIMEOUT,
  MAX_ATTEMPTS, CONCURRENT_REQUESTS (8), LOOKBACK_SECONDS
  (300: incremental queries start that far below the last cursor), OPPORTUNITY_CUSTOM_FIELDS
  (default ["Region__c", "Loss_Reason__c", "Discount_Percent__c"]), BULK_THRESHOLD (6000: a
  first load reads an object of BULK_TYPES with more records through Bulk API 2.0, see
  pipelines/salesforce_bulk.py; 0 = always Bulk, -1 = never), BULK_MAX_RECORDS (50000 per
  result set), BULK_TIMEOUT_SECONDS (3600: longest wait for a query job).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator
from requests import PreparedRequest, Request, Response
from requests.auth import AuthBase

from pipelines.http import make_client, stuck
from pipelines.salesforce_bulk import DEFAULT_BULK_THRESHOLD, DEFAULT_MAX_RECORDS, BulkReader
from pipelines.timeutil import EPOCH, rfc3339
from pipelines.validation import (
    OPT_BOOL,
    OPT_ID,
    OPT_MONEY,
    OPT_RFC3339,
    REQ_ID,
    REQ_RFC3339,
    REQ_RFC3339_CURSOR,
    RowSpec,
    emit,
    optional,
    required,
)

SYSTEM = "salesforce"
MASTER_RECORD_TYPE = "012000000000000AAA"
DEFAULT_CUSTOM_FIELDS = ("Region__c", "Loss_Reason__c", "Discount_Percent__c")


class SalesforceError(RuntimeError):
    """Configuration or authentication problem, named for the user."""


def _date(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a date 'YYYY-MM-DD', got {value!r}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected a date 'YYYY-MM-DD', got {value!r}") from None
    return value


OPT_DATE = optional(_date)
REQ_DATE = required(_date)
STAMPED = {"Id": REQ_ID, "CreatedDate": REQ_RFC3339, "SystemModstamp": REQ_RFC3339_CURSOR}

# Fields the event log depends on are type-checked (timestamps parsed to UTC); a row that fails
# goes to `rejects` with the reason. Other fields load as they come (schema evolves).
SPECS: dict[str, RowSpec] = {
    "users": RowSpec("users", {**STAMPED, "IsActive": OPT_BOOL}, "Id"),
    "user_roles": RowSpec("user_roles", {"Id": REQ_ID}, "Id"),
    "record_types": RowSpec("record_types", {"Id": REQ_ID}, "Id"),
    "opportunity_stages": RowSpec("opportunity_stages", {"Id": REQ_ID}, "Id"),
    "accounts": RowSpec("accounts", STAMPED, "Id"),
    "contacts": RowSpec("contacts", STAMPED, "Id"),
    "leads": RowSpec(
        "leads",
        {
            **STAMPED,
            "LastModifiedDate": OPT_RFC3339,
            "IsConverted": OPT_BOOL,
            "ConvertedDate": OPT_DATE,
            "ConvertedOpportunityId": OPT_ID,
        },
        "Id",
    ),
    "opportunities": RowSpec(
        "opportunities",
        {
            **STAMPED,
            "LastModifiedDate": OPT_RFC3339,
            "LastStageChangeDate": OPT_RFC3339,
            "AccountId": OPT_ID,
            "OwnerId": OPT_ID,
            "Amount": OPT_MONEY,
            "IsClosed": OPT_BOOL,
            "IsWon": OPT_BOOL,
            "CloseDate": OPT_DATE,
        },
        "Id",
    ),
    "opportunity_history": RowSpec(
        "opportunity_history",
        {
            "Id": REQ_ID,
            "OpportunityId": REQ_ID,
            "Amount": OPT_MONEY,
            "PrevAmount": OPT_MONEY,
            "ExpectedRevenue": OPT_MONEY,
            "Probability": OPT_MONEY,
            "CloseDate": OPT_DATE,
            "PrevCloseDate": OPT_DATE,
            "CreatedDate": REQ_RFC3339,
            "SystemModstamp": OPT_RFC3339,
            "IsDeleted": OPT_BOOL,
        },
        "Id",
    ),
    "opportunity_field_history": RowSpec(
        "opportunity_field_history",
        {"Id": REQ_ID, "OpportunityId": REQ_ID, "CreatedDate": REQ_RFC3339, "IsDeleted": OPT_BOOL},
        "Id",
    ),
    "lead_history": RowSpec(
        "lead_history",
        {"Id": REQ_ID, "LeadId": REQ_ID, "CreatedDate": REQ_RFC3339, "IsDeleted": OPT_BOOL},
        "Id",
    ),
    "opportunity_line_items": RowSpec(
        "opportunity_line_items",
        {
            **STAMPED,
            "OpportunityId": REQ_ID,
            "Quantity": OPT_MONEY,
            "ListPrice": OPT_MONEY,
            "UnitPrice": OPT_MONEY,
            "TotalPrice": OPT_MONEY,
        },
        "Id",
    ),
    "quotes": RowSpec(
        "quotes",
        {**STAMPED, "LastModifiedDate": OPT_RFC3339, "GrandTotal": OPT_MONEY},
        "Id",
    ),
    "quote_line_items": RowSpec(
        "quote_line_items", {**STAMPED, "QuoteId": REQ_ID, "TotalPrice": OPT_MONEY}, "Id"
    ),
    "cpq_quotes": RowSpec(
        "cpq_quotes",
        {**STAMPED, "LastModifiedDate": OPT_RFC3339, "SBQQ__NetAmount__c": OPT_MONEY},
        "Id",
    ),
    "orders": RowSpec(
        "orders",
        {**STAMPED, "ActivatedDate": OPT_RFC3339, "TotalAmount": OPT_MONEY},
        "Id",
    ),
    "tasks": RowSpec("tasks", {**STAMPED, "CompletedDateTime": OPT_RFC3339}, "Id"),
    "process_instances": RowSpec(
        "process_instances",
        {
            **STAMPED,
            "TargetObjectId": REQ_ID,
            "CompletedDate": OPT_RFC3339,
            "LastModifiedDate": OPT_RFC3339,
        },
        "Id",
    ),
    "process_instance_steps": RowSpec(
        "process_instance_steps",
        {
            "Id": REQ_ID,
            "ProcessInstanceId": REQ_ID,
            "ActorId": REQ_ID,
            "CreatedDate": REQ_RFC3339,
            "SystemModstamp": OPT_RFC3339,
        },
        "Id",
    ),
    "contracts": RowSpec(
        "contracts",
        {
            **STAMPED,
            "AccountId": OPT_ID,
            "ActivatedDate": OPT_RFC3339,
            "CustomerSignedDate": OPT_DATE,
            "StartDate": OPT_DATE,
            "LastModifiedDate": OPT_RFC3339,
        },
        "Id",
    ),
    "campaigns": RowSpec(
        "campaigns",
        {
            **STAMPED,
            "IsActive": OPT_BOOL,
            "StartDate": OPT_DATE,
            "EndDate": OPT_DATE,
            "IsDeleted": OPT_BOOL,
        },
        "Id",
    ),
    "campaign_members": RowSpec(
        "campaign_members",
        {
            **STAMPED,
            "CampaignId": REQ_ID,
            "LeadId": OPT_ID,
            "ContactId": OPT_ID,
            "HasResponded": OPT_BOOL,
            "FirstRespondedDate": OPT_DATE,
            "IsDeleted": OPT_BOOL,
        },
        "Id",
    ),
    "products": RowSpec("products", {**STAMPED, "IsActive": OPT_BOOL}, "Id"),
}

_TS = pa.timestamp("us", tz="UTC")
# The history objects are the largest tables: written as Arrow tables (fixed schema, unknown
# fields kept as text).
HISTORY_TYPES: dict[str, pa.DataType] = {
    "Id": pa.string(),
    "OpportunityId": pa.string(),
    "StageName": pa.string(),
    "Amount": pa.float64(),
    "ExpectedRevenue": pa.float64(),
    "CloseDate": pa.string(),
    "Probability": pa.float64(),
    "ForecastCategory": pa.string(),
    "PrevAmount": pa.float64(),
    "PrevCloseDate": pa.string(),
    "CreatedDate": _TS,
    "CreatedById": pa.string(),
    "SystemModstamp": _TS,
    "IsDeleted": pa.bool_(),
    "Opportunity__RecordTypeId": pa.string(),
}
FIELD_HISTORY_TYPES: dict[str, pa.DataType] = {
    "Id": pa.string(),
    "OpportunityId": pa.string(),
    "Field": pa.string(),
    "DataType": pa.string(),
    "OldValue": pa.string(),
    "NewValue": pa.string(),
    "CreatedDate": _TS,
    "CreatedById": pa.string(),
    "IsDeleted": pa.bool_(),
}
LEAD_HISTORY_TYPES: dict[str, pa.DataType] = {
    **{k: v for k, v in FIELD_HISTORY_TYPES.items() if k != "OpportunityId"},
    "LeadId": pa.string(),
}

# The next largest tables, also written as Arrow tables: the types dlt infers for them as dict
# rows (checked by comparing loads); relationship fields become `Rel__Field` columns, as dlt
# makes them; a page that does not fit goes to dlt as dict rows (validation.arrow_or_rows).
TASK_TYPES: dict[str, pa.DataType] = {
    "Id": pa.string(),
    "Subject": pa.string(),
    "Type": pa.string(),
    "TaskSubtype": pa.string(),
    "Status": pa.string(),
    "IsClosed": pa.bool_(),
    "WhatId": pa.string(),
    "WhoId": pa.string(),
    "OwnerId": pa.string(),
    "ActivityDate": pa.string(),
    "CompletedDateTime": _TS,
    "CreatedDate": _TS,
    "SystemModstamp": _TS,
}
_LINE_ITEM_TYPES: dict[str, pa.DataType] = {
    "Id": pa.string(),
    "Product2Id": pa.string(),
    "Quantity": pa.float64(),
    "ListPrice": pa.float64(),
    "UnitPrice": pa.float64(),
    "Discount": pa.float64(),
    "TotalPrice": pa.float64(),
    "CurrencyIsoCode": pa.string(),
    "CreatedDate": _TS,
    "SystemModstamp": _TS,
    "Product2__Name": pa.string(),
}
OPPORTUNITY_LINE_ITEM_TYPES = {
    **_LINE_ITEM_TYPES,
    "OpportunityId": pa.string(),
    "Subtotal": pa.float64(),
}
QUOTE_LINE_ITEM_TYPES = {**_LINE_ITEM_TYPES, "QuoteId": pa.string()}

# Objects a first load may read through Bulk API 2.0 (pipelines/salesforce_bulk.py), with the
# types of their non-text fields: Bulk results are CSV text, and a number or flag left as text
# would load with another column type than over REST. Opportunity stays on REST: its
# LastOpenStageName comes from a parent-to-child subquery, which Bulk API 2.0 refuses.
BULK_TYPES: dict[str, dict[str, pa.DataType]] = {
    "Account": {},
    "Contact": {},
    "Lead": {"IsConverted": pa.bool_()},
    "OpportunityHistory": HISTORY_TYPES,
    "OpportunityFieldHistory": FIELD_HISTORY_TYPES,
    "OpportunityLineItem": OPPORTUNITY_LINE_ITEM_TYPES,
    "QuoteLineItem": QUOTE_LINE_ITEM_TYPES,
    "Task": TASK_TYPES,
}

FIELDS: dict[str, tuple[str, ...]] = {
    "User": (
        "Id",
        "Username",
        "Name",
        "Email",
        "IsActive",
        "UserType",
        "UserRoleId",
        "ManagerId",
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
    ),
    "UserRole": ("Id", "Name", "DeveloperName", "ParentRoleId", "ForecastUserId", "SystemModstamp"),
    "RecordType": ("Id", "Name", "DeveloperName", "SobjectType", "IsActive", "SystemModstamp"),
    "OpportunityStage": (
        "Id",
        "MasterLabel",
        "ApiName",
        "IsActive",
        "SortOrder",
        "IsClosed",
        "IsWon",
        "DefaultProbability",
        "ForecastCategoryName",
        "SystemModstamp",
    ),
    "Account": (
        "Id",
        "Name",
        "OwnerId",
        "Type",
        "Industry",
        "BillingCountry",
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
    ),
    "Contact": (
        "Id",
        "AccountId",
        "OwnerId",
        "Name",
        "Email",
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
    ),
    "Lead": (
        "Id",
        "Name",
        "Company",
        "Status",
        "LeadSource",
        "OwnerId",
        "IsConverted",
        "ConvertedDate",
        "ConvertedOpportunityId",
        "ConvertedAccountId",
        "ConvertedContactId",
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
    ),
    "Opportunity": (
        "Id",
        "Name",
        "AccountId",
        "ContactId",
        "OwnerId",
        "RecordTypeId",
        "Type",
        "StageName",
        "Probability",
        "ForecastCategoryName",
        "IsClosed",
        "IsWon",
        "Amount",
        "CurrencyIsoCode",
        "CloseDate",
        "LeadSource",
        "CampaignId",
        "SyncedQuoteId",
        "LastStageChangeDate",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "SystemModstamp",
        "IsDeleted",
    ),
    "OpportunityHistory": (
        "Id",
        "OpportunityId",
        "StageName",
        "Amount",
        "ExpectedRevenue",
        "CloseDate",
        "Probability",
        "ForecastCategory",
        "PrevAmount",
        "PrevCloseDate",
        "CreatedDate",
        "CreatedById",
        "SystemModstamp",
        "IsDeleted",
        "Opportunity.RecordTypeId",
    ),
    "OpportunityFieldHistory": (
        "Id",
        "OpportunityId",
        "Field",
        "DataType",
        "OldValue",
        "NewValue",
        "CreatedDate",
        "CreatedById",
        "IsDeleted",
    ),
    "LeadHistory": (
        "Id",
        "LeadId",
        "Field",
        "DataType",
        "OldValue",
        "NewValue",
        "CreatedDate",
        "CreatedById",
        "IsDeleted",
    ),
    "OpportunityLineItem": (
        "Id",
        "OpportunityId",
        "Product2Id",
        "Product2.Name",
        "Quantity",
        "ListPrice",
        "UnitPrice",
        "Discount",
        "Subtotal",
        "TotalPrice",
        "CurrencyIsoCode",
        "CreatedDate",
        "SystemModstamp",
    ),
    "Quote": (
        "Id",
        "Name",
        "QuoteNumber",
        "OpportunityId",
        "Status",
        "IsSyncing",
        "Subtotal",
        "Discount",
        "GrandTotal",
        "CurrencyIsoCode",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "SystemModstamp",
    ),
    "QuoteLineItem": (
        "Id",
        "QuoteId",
        "Product2Id",
        "Product2.Name",
        "Quantity",
        "ListPrice",
        "UnitPrice",
        "Discount",
        "TotalPrice",
        "CurrencyIsoCode",
        "CreatedDate",
        "SystemModstamp",
    ),
    "SBQQ__Quote__c": (
        "Id",
        "Name",
        "OwnerId",
        "SBQQ__Opportunity2__c",
        "SBQQ__Status__c",
        "SBQQ__Primary__c",
        "SBQQ__ListAmount__c",
        "SBQQ__NetAmount__c",
        "SBQQ__AverageCustomerDiscount__c",
        "CurrencyIsoCode",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "SystemModstamp",
    ),
    "Order": (
        "Id",
        "OrderNumber",
        "OpportunityId",
        "AccountId",
        "OwnerId",
        "Status",
        "EffectiveDate",
        "ActivatedDate",
        "TotalAmount",
        "CurrencyIsoCode",
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
    ),
    "Task": (
        "Id",
        "Subject",
        "Type",
        "TaskSubtype",
        "Status",
        "IsClosed",
        "WhatId",
        "WhoId",
        "OwnerId",
        "ActivityDate",
        "CompletedDateTime",
        "CreatedDate",
        "SystemModstamp",
    ),
    "ProcessInstance": (
        "Id",
        "ProcessDefinitionId",
        "TargetObjectId",
        "Status",
        "SubmittedById",
        "LastActorId",
        "CompletedDate",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "SystemModstamp",
    ),
    "ProcessInstanceStep": (
        "Id",
        "ProcessInstanceId",
        "ProcessInstance.TargetObjectId",
        "StepStatus",
        "ActorId",
        "OriginalActorId",
        "Comments",
        "CreatedDate",
        "CreatedById",
        "SystemModstamp",
    ),
    "Contract": (
        "Id",
        "ContractNumber",
        "AccountId",
        "Opportunity__c",
        "OwnerId",
        "Status",
        "StatusCode",
        "StartDate",
        "ContractTerm",
        "CustomerSignedId",
        "CustomerSignedDate",
        "ActivatedDate",
        "ActivatedById",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "SystemModstamp",
    ),
    "Campaign": (
        "Id",
        "Name",
        "Type",
        "Status",
        "IsActive",
        "StartDate",
        "EndDate",
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
        "IsDeleted",
    ),
    "CampaignMember": (
        "Id",
        "CampaignId",
        "LeadId",
        "ContactId",
        "Status",
        "HasResponded",
        "FirstRespondedDate",
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
        "IsDeleted",
    ),
    "Product2": (
        "Id",
        "Name",
        "ProductCode",
        "Family",
        "IsActive",
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
    ),
}


def soql_text(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def strip_attributes(value: Any) -> Any:
    """Drop the `attributes` ({type, url}) Salesforce puts on every record and relationship."""
    if type(value) is dict:
        out = dict(value)
        out.pop("attributes", None)
        for key, item in out.items():
            if type(item) is dict or type(item) is list:
                out[key] = strip_attributes(item)
        return out
    if type(value) is list:
        return [strip_attributes(item) for item in value]
    return value


def flatten_relationships(row: dict[str, Any]) -> dict[str, Any]:
    """{"Opportunity": {"RecordTypeId": x}} -> {"Opportunity__RecordTypeId": x} (for the Arrow
    tables; dlt flattens nested dicts the same way for the others)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            for sub, sub_value in value.items():
                out[f"{key}__{sub}"] = sub_value
        else:
            out[key] = value
    return out


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


class SalesforceAuth(AuthBase):
    """Bearer auth with a lazily obtained (client credentials) token, renewed once when the API
    answers 401 INVALID_SESSION_ID; or a ready access token."""

    def __init__(
        self,
        login: RESTClient | None,
        client_id: str | None,
        client_secret: str | None,
        access_token: str | None,
        instance_url: str | None,
        system: str = SYSTEM,
    ) -> None:
        self.system = system
        self._login = login
        self._client_id = client_id
        self._client_secret = client_secret
        self._token = access_token
        self._instance_url = instance_url.rstrip("/") if instance_url else None
        self._lock = threading.Lock()
        self.tokens_issued = 0

    @property
    def can_refresh(self) -> bool:
        return bool(self._login and self._client_id and self._client_secret)

    def ensure(self) -> tuple[str, str]:
        """(access token, instance URL), authenticating on first use."""
        with self._lock:
            if self._token is None:
                self._authenticate()
            assert self._token is not None and self._instance_url is not None
            return self._token, self._instance_url

    def _authenticate(self) -> None:
        if not self.can_refresh or self._login is None:
            env = f"SOURCES__{self.system.upper()}__"
            raise SalesforceError(
                f"{self.system}: missing configuration: set {env}CLIENT_ID and "
                f"{env}CLIENT_SECRET (with {env}LOGIN_URL), or "
                f"{env}ACCESS_TOKEN (with {env}INSTANCE_URL), in "
                f".dlt/secrets.toml under [sources.{self.system}] or as environment variables"
            )
        url = f"{self._login.base_url}/services/oauth2/token"
        response = self._login.session.post(
            url,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            },
        )
        if response.status_code != 200:
            raise SalesforceError(
                f"{self.system}: OAuth token request to {url} failed with {response.status_code}: "
                f"{response.text[:300]}"
            )
        body = response.json()
        self._token = body["access_token"]
        self._instance_url = str(body.get("instance_url") or self._login.base_url).rstrip("/")
        self.tokens_issued += 1

    def _renew(self, stale: str) -> str:
        with self._lock:
            if self._token == stale:
                self._authenticate()
            assert self._token is not None
            return self._token

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        token, _ = self.ensure()
        request.headers["Authorization"] = f"Bearer {token}"
        request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response: Response, **kwargs: Any) -> Response:
        request = response.request
        if response.status_code != 401 or not self.can_refresh:
            return response
        if request.headers.get("X-L2C-Reauthenticated"):
            return response
        stale = str(request.headers.get("Authorization", "")).removeprefix("Bearer ")
        token = self._renew(stale)
        retry = request.copy()
        retry.headers["Authorization"] = f"Bearer {token}"
        retry.headers["X-L2C-Reauthenticated"] = "1"
        _ = response.content
        response.close()
        connection = getattr(response, "connection", None)
        if connection is None:
            return response
        renewed: Response = connection.send(retry, **kwargs)
        renewed.history.append(response)
        renewed.request = retry
        return renewed


class SalesforceConnection:
    """The REST client of one source run: authenticated, versioned and with the org's list of
    objects, all obtained on first use (inside extraction, so errors name the failed step)."""

    def __init__(
        self,
        auth: SalesforceAuth,
        api_version: str,
        page_size: int,
        timeout: float,
        max_attempts: int,
        concurrency: int = 8,
        system: str = SYSTEM,
    ) -> None:
        self.system = system
        self.auth = auth
        self.concurrency = concurrency
        self.api_version = api_version
        self.page_size = page_size
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._client: RESTClient | None = None
        self._objects: set[str] | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> RESTClient:
        with self._lock:
            if self._client is None:
                _, instance_url = self.auth.ensure()
                client = make_client(
                    f"{instance_url}/services/data/v{self.api_version}",
                    {
                        "Accept": "application/json",
                        "Sforce-Query-Options": f"batchSize={self.page_size}",
                    },
                    system=self.system,
                    concurrency=self.concurrency,  # no per-second rate: a daily allocation
                    timeout_seconds=self.timeout,
                    max_attempts=self.max_attempts,
                )
                client.auth = self.auth
                self._client = client
            return self._client

    def has(self, sobject: str) -> bool:
        client = self.client
        with self._lock:
            if self._objects is None:
                response = client.get("/sobjects")
                response.raise_for_status()
                self._objects = {o["name"] for o in response.json().get("sobjects") or []}
            return sobject in self._objects

    def query(self, soql: str) -> Iterator[list[dict[str, Any]]]:
        _, instance_url = self.auth.ensure()
        for page in self.client.paginate(
            "/query",
            params={"q": soql},
            paginator=NextRecordsPaginator(instance_url),
            data_selector="records",
        ):
            yield [strip_attributes(row) for row in page]

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        response.raise_for_status()
        return response.json()


class NextRecordsPaginator(JSONLinkPaginator):
    """dlt's JSONLinkPaginator on `nextRecordsUrl`, a path relative to the instance URL: dlt
    resolves a path against the host only, dropping a path the instance URL may carry."""

    def __init__(self, instance_url: str) -> None:
        super().__init__(next_url_path="nextRecordsUrl")
        self.instance_url = instance_url.rstrip("/")
        self._seen: str | None = None  # the nextRecordsUrl last followed (as the API wrote it)

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        previous = self._next_reference
        super().update_state(response, data)
        if self._next_reference and self._next_reference in (previous, self._seen):
            raise stuck(
                response.url, f"nextRecordsUrl {self._next_reference!r} was already requested"
            )
        self._seen = self._next_reference

    def update_request(self, request: Request) -> None:
        if self._next_reference and self._next_reference.startswith("/"):
            self._next_reference = self.instance_url + self._next_reference
        super().update_request(request)


def _incremental_soql(
    sobject: str,
    fields: Sequence[str],
    cursor: str,
    since: datetime,
    where: str = "",
    ordered: bool = True,
) -> str:
    """`ordered=False` for a Bulk query job (ORDER BY stops Salesforce from chunking it; the
    incremental cursor takes the largest value whatever the order)."""
    conditions = [f"{cursor} >= {rfc3339(since)}", *([where] if where else [])]
    soql = f"SELECT {', '.join(fields)} FROM {sobject} WHERE {' AND '.join(conditions)}"
    return f"{soql} ORDER BY {cursor} ASC, Id ASC" if ordered else soql


def connect(
    system: str,
    login_url: str,
    client_id: str | None,
    client_secret: str | None,
    access_token: str | None,
    instance_url: str | None,
    api_version: str,
    page_size: int,
    request_timeout: float,
    max_attempts: int,
    concurrent_requests: int,
) -> SalesforceConnection:
    """The REST connection of one source run on a Salesforce org (shared by every source that
    reads an org: the CRM objects here, a managed package's objects in pipelines.certinia)."""
    login = make_client(
        login_url,
        {"Accept": "application/json"},
        system=f"{system}_login",
        timeout_seconds=request_timeout,
        max_attempts=max_attempts,
    )
    auth = SalesforceAuth(
        login,
        client_id,
        client_secret,
        access_token,
        instance_url or (login_url if access_token else None),
        system=system,
    )
    return SalesforceConnection(
        auth,
        api_version,
        max(1, min(page_size, 2000)),
        request_timeout,
        max_attempts,
        concurrent_requests,
        system=system,
    )


def incremental_resource(
    conn: SalesforceConnection,
    spec: RowSpec,
    sobject: str,
    fields: Sequence[str],
    lookback_seconds: float,
    cursor: str = "SystemModstamp",
    shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    arrow_types: dict[str, pa.DataType] | None = None,
    bulk: BulkReader | None = None,
) -> DltResource:
    """A table merged on Id from one SObject, read incrementally on `cursor` (>= the last
    value less `lookback_seconds`); skipped when the org does not have the object. Rows go
    through the spec's checks (rejects). With `bulk`, a first load of a large object reads
    it through Bulk API 2.0 (BulkReader.choose), every other run through the REST query."""

    @dlt.resource(
        name=spec.resource, primary_key="Id", write_disposition="merge", parallelized=True
    )
    def resource(
        updated=dlt.sources.incremental(  # noqa: B008
            cursor,
            initial_value=EPOCH,
            lag=lookback_seconds,
            on_cursor_value_missing="include",
        ),
    ) -> Iterator[Any]:
        if not conn.has(sobject):
            return
        if bulk is not None and bulk.choose(sobject, first_load=updated.start_value == EPOCH):
            soql = _incremental_soql(sobject, fields, cursor, updated.start_value, ordered=False)
            pages = bulk.query(soql, sobject, fields)
        else:
            pages = conn.query(_incremental_soql(sobject, fields, cursor, updated.start_value))
        for page in pages:
            rows = [shape(row) for row in page] if shape else page
            yield from emit(conn.system, spec, rows, arrow_types)

    return resource


@dlt.source(name="salesforce", max_table_nesting=1)
def salesforce_source(
    login_url: str = "https://login.salesforce.com",
    client_id: str | None = None,
    client_secret: TSecretStrValue | None = None,
    access_token: TSecretStrValue | None = None,
    instance_url: str | None = None,
    api_version: str = "62.0",
    page_size: int = 2000,
    request_timeout: float = 30.0,
    max_attempts: int = 6,
    opportunity_custom_fields: Sequence[str] = DEFAULT_CUSTOM_FIELDS,
    concurrent_requests: int = 8,
    lookback_seconds: float = 300.0,
    bulk_threshold: int = DEFAULT_BULK_THRESHOLD,
    bulk_max_records: int = DEFAULT_MAX_RECORDS,
    bulk_timeout_seconds: float = 3600.0,
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
    bulk = BulkReader(
        conn,
        BULK_TYPES,
        threshold=bulk_threshold,
        max_records=bulk_max_records,
        timeout_seconds=bulk_timeout_seconds,
    )

    def incremental(
        name: str,
        sobject: str,
        cursor: str = "SystemModstamp",
        shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        arrow_types: dict[str, pa.DataType] | None = None,
    ) -> DltResource:
        return incremental_resource(
            conn,
            SPECS[name],
            sobject,
            FIELDS[sobject],
            lookback_seconds,
            cursor,
            shape,
            arrow_types,
            bulk,
        )

    def full(name: str, sobject: str) -> DltResource:
        """A small object re-read on every run."""
        # lookups that are often empty still get a column (e.g. UserRole.ParentRoleId)
        lookups = {f: {"data_type": "text"} for f in FIELDS[sobject] if f.endswith("Id")}

        @dlt.resource(
            name=name,
            primary_key="Id",
            write_disposition="merge",
            columns=lookups,
            parallelized=True,
        )
        def resource() -> Iterator[Any]:
            if not conn.has(sobject):
                return
            for page in conn.query(f"SELECT {', '.join(FIELDS[sobject])} FROM {sobject}"):
                yield from emit(SYSTEM, SPECS[name], page)

        return resource

    record_types_read: list[list[dict[str, Any]]] = []  # read once per run (two resources)
    record_types_lock = threading.Lock()

    def opportunity_record_types() -> list[dict[str, Any]]:
        with record_types_lock:
            if not record_types_read:
                record_types_read.append(read_record_types())
            return record_types_read[0]

    def read_record_types() -> list[dict[str, Any]]:
        soql = (
            f"SELECT {', '.join(FIELDS['RecordType'])} FROM RecordType "
            "WHERE SobjectType = 'Opportunity'"
        )
        rows = [row for page in conn.query(soql) for row in page]
        if rows:
            return rows
        # an org without Opportunity record types has one sales process: the master one
        return [
            {
                "Id": MASTER_RECORD_TYPE,
                "Name": "Master",
                "DeveloperName": "Master",
                "SobjectType": "Opportunity",
                "IsActive": True,
            }
        ]

    @dlt.resource(
        name="record_types", primary_key="Id", write_disposition="merge", parallelized=True
    )
    def record_types() -> Iterator[Any]:
        """Opportunity record types: the pipelines (one sales process each)."""
        yield from emit(SYSTEM, SPECS["record_types"], opportunity_record_types())

    @dlt.resource(
        name="stage_picklist_values",
        primary_key=("RecordTypeId", "value"),
        write_disposition="merge",
        parallelized=True,
    )
    def stage_picklist_values() -> Iterator[Any]:
        """StageName values of each record type's sales process (UI API), in sales order."""
        rows = []
        for record_type in opportunity_record_types():
            body = conn.get(
                f"/ui-api/object-info/Opportunity/picklist-values/{record_type['Id']}/StageName"
            )
            for order, value in enumerate(body.get("values") or [], start=1):
                rows.append({"RecordTypeId": record_type["Id"], "SortOrder": order, **value})
        yield rows

    def closed_stages() -> list[str]:
        soql = "SELECT ApiName FROM OpportunityStage WHERE IsClosed = true"
        return [row["ApiName"] for page in conn.query(soql) for row in page]

    @dlt.resource(
        name="opportunities", primary_key="Id", write_disposition="merge", parallelized=True
    )
    def opportunities(
        updated=dlt.sources.incremental(  # noqa: B008
            "SystemModstamp",
            initial_value=EPOCH,
            lag=lookback_seconds,
            on_cursor_value_missing="include",
        ),
    ) -> Iterator[Any]:
        closed = closed_stages()
        open_only = f" WHERE StageName NOT IN ({', '.join(soql_text(s) for s in closed)})"
        subquery = (
            "(SELECT StageName FROM OpportunityHistories"
            f"{open_only if closed else ''} ORDER BY CreatedDate DESC LIMIT 1)"
        )
        fields = [*FIELDS["Opportunity"], *opportunity_custom_fields, subquery]
        soql = _incremental_soql("Opportunity", fields, "SystemModstamp", updated.start_value)
        for page in conn.query(soql):
            yield from emit(SYSTEM, SPECS["opportunities"], [_last_open_stage(r) for r in page])

    return [
        incremental("users", "User"),
        full("user_roles", "UserRole"),
        record_types,
        full("opportunity_stages", "OpportunityStage"),
        stage_picklist_values,
        incremental("accounts", "Account"),
        incremental("contacts", "Contact"),
        incremental("leads", "Lead"),
        opportunities,
        incremental(
            "opportunity_history",
            "OpportunityHistory",
            cursor="CreatedDate",
            shape=flatten_relationships,
            arrow_types=HISTORY_TYPES,
        ),
        incremental(
            "opportunity_field_history",
            "OpportunityFieldHistory",
            cursor="CreatedDate",
            shape=_field_values_as_text,
            arrow_types=FIELD_HISTORY_TYPES,
        ),
        incremental(
            "lead_history",
            "LeadHistory",
            cursor="CreatedDate",
            shape=_field_values_as_text,
            arrow_types=LEAD_HISTORY_TYPES,
        ),
        incremental(
            "opportunity_line_items",
            "OpportunityLineItem",
            arrow_types=OPPORTUNITY_LINE_ITEM_TYPES,
        ),
        incremental("quotes", "Quote"),
        incremental("quote_line_items", "QuoteLineItem", arrow_types=QUOTE_LINE_ITEM_TYPES),
        incremental("cpq_quotes", "SBQQ__Quote__c"),
        incremental("orders", "Order"),
        incremental("tasks", "Task", arrow_types=TASK_TYPES),
        incremental("process_instances", "ProcessInstance"),
        incremental(
            "process_instance_steps",
            "ProcessInstanceStep",
            cursor="CreatedDate",
            shape=flatten_relationships,
        ),
        incremental("contracts", "Contract"),
        incremental("campaigns", "Campaign"),
        incremental("campaign_members", "CampaignMember"),
        incremental("products", "Product2"),
    ]


def _last_open_stage(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    child = out.pop("OpportunityHistories", None)  # null when the subquery found no row
    records = child.get("records") or [] if isinstance(child, dict) else []
    out["LastOpenStageName"] = records[0].get("StageName") if records else None
    return out


def _field_values_as_text(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "OldValue": _as_text(row.get("OldValue")),
        "NewValue": _as_text(row.get("NewValue")),
    }
