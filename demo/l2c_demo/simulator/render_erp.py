"""The ERP's sales-order export: the file drop that carries the orders of the CRMs without
order objects (Pipedrive, Oracle CX).

The ERP (a German mid-market system) exports its sales orders once a day into a folder, one
file per month of order creation, named `sales_orders_YYYY-MM.csv` (or `.parquet`). Each export
rewrites every month's file from the ERP's current state, so the file of a past month keeps its
bytes unless one of its orders changed since the last export: an order gets its fulfilment
date, status `Fulfilled` and a new `Changed On` when its goods are delivered. The current
month's file grows as orders are created.

CSV files look like a German ERP's export: UTF-8 with a byte-order mark, `;` as delimiter,
decimal comma (`18250,00`), times as `DD.MM.YYYY HH:MM:SS +01:00` in the ERP's time zone
(Europe/Berlin) with the explicit UTC offset. Parquet files have the same column names with
typed values (timestamps with time zone, decimal amounts).

`CRM` names the system the order's deal lives in (PIPEDRIVE, ORACLE_CX) and
`CRM Opportunity` / `CRM Account` the ids that CRM shows (l2c_demo.simulator.crms), which is how the
warehouse links an ERP order to its deal.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from l2c_demo.simulator.crms import crm
from l2c_demo.simulator.model import World
from l2c_demo.simulator.orders import SalesOrder

if TYPE_CHECKING:
    from l2c_demo.simulator.company import DemoCompany

ERP_TIME_ZONE = ZoneInfo("Europe/Berlin")
CSV_TIME_FORMAT = "%d.%m.%Y %H:%M:%S %z"  # rendered with a colon in the offset: +01:00
FILE_PREFIX = "sales_orders_"
ERP_CRMS: tuple[str, ...] = ("pipedrive", "oracle_cx")  # the CRMs whose orders live in the ERP

HEADERS: tuple[str, ...] = (
    "Order No",
    "Order Date",
    "Customer No",
    "Customer",
    "CRM",
    "CRM Account",
    "CRM Opportunity",
    "Sales Rep",
    "Net Amount",
    "Currency",
    "Status",
    "Fulfilment Date",
    "Changed On",
)

ExportFormat = Literal["csv", "parquet"]

PARQUET_SCHEMA = pa.schema(
    [
        ("Order No", pa.string()),
        ("Order Date", pa.timestamp("s", tz="Europe/Berlin")),
        ("Customer No", pa.string()),
        ("Customer", pa.string()),
        ("CRM", pa.string()),
        ("CRM Account", pa.string()),
        ("CRM Opportunity", pa.string()),
        ("Sales Rep", pa.string()),
        ("Net Amount", pa.decimal128(14, 2)),
        ("Currency", pa.string()),
        ("Status", pa.string()),
        ("Fulfilment Date", pa.timestamp("s", tz="Europe/Berlin")),
        ("Changed On", pa.timestamp("s", tz="Europe/Berlin")),
    ]
)


@dataclass(frozen=True)
class ErpOrderRow:
    """One line of the export, typed; `csv_fields()` renders it the way the ERP writes CSV."""

    order_no: str
    order_date: datetime  # ERP local time (aware)
    customer_no: str
    customer: str
    crm_code: str
    crm_account: str
    crm_opportunity: str
    sales_rep: str
    net_amount: Decimal
    currency: str
    status: str
    fulfilment_date: datetime | None
    changed_on: datetime

    @property
    def month(self) -> str:
        return f"{self.order_date:%Y-%m}"

    def values(self) -> tuple[Any, ...]:
        return (
            self.order_no,
            self.order_date,
            self.customer_no,
            self.customer,
            self.crm_code,
            self.crm_account,
            self.crm_opportunity,
            self.sales_rep,
            self.net_amount,
            self.currency,
            self.status,
            self.fulfilment_date,
            self.changed_on,
        )

    def csv_fields(self) -> list[str]:
        return [_csv_text(value) for value in self.values()]


@dataclass
class ErpExport:
    """The orders the ERP shows at as_of, grouped by month of creation (ERP local time)."""

    as_of: int
    months: dict[str, list[ErpOrderRow]] = field(default_factory=dict)

    @property
    def rows(self) -> list[ErpOrderRow]:
        return [row for month in sorted(self.months) for row in self.months[month]]


def erp_time(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone(ERP_TIME_ZONE)


def format_erp_time(moment: datetime) -> str:
    """`14.01.2025 09:32:00 +01:00` (strptime's %z reads the offset with or without colon)."""
    text = moment.strftime(CSV_TIME_FORMAT)
    return f"{text[:-2]}:{text[-2:]}"


def order_no(order: SalesOrder) -> str:
    return f"SO{order.number:07d}"


def customer_no(org_id: int) -> str:
    return f"D{10000 + org_id}"


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_erp_time(value)
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    return str(value)


def render_erp(
    world: World, orders: Iterable[SalesOrder], as_of: int, systems: Collection[str] = ERP_CRMS
) -> ErpExport:
    """The ERP's orders visible at as_of whose deal's CRM is in `systems`."""
    orgs = {org.id: org for org in world.orgs}
    reps = {rep.id: rep for rep in world.reps}
    deals = {deal.id: deal for deal in world.deals}
    export = ErpExport(as_of)
    for order in sorted(orders, key=lambda o: o.number):
        if order.crm not in systems or not order.visible(as_of):
            continue
        deal = deals[order.deal_id]
        org = orgs[deal.org_id]
        unit = crm(order.crm)
        fulfilled = order.fulfilled_at(as_of)
        row = ErpOrderRow(
            order_no=order_no(order),
            order_date=erp_time(order.created),
            customer_no=customer_no(org.id),
            customer=org.name,
            crm_code=order.crm.upper(),
            crm_account=unit.account_ref(org.id),
            crm_opportunity=unit.deal_ref(deal.id),
            sales_rep=reps[order.owner_id].name,
            net_amount=Decimal(order.amount_cents).scaleb(-2),
            currency=order.currency.upper(),
            status="Open" if fulfilled is None else "Fulfilled",
            fulfilment_date=None if fulfilled is None else erp_time(fulfilled),
            changed_on=erp_time(fulfilled if fulfilled is not None else order.created),
        )
        export.months.setdefault(row.month, []).append(row)
    return export


def csv_bytes(rows: Sequence[ErpOrderRow]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS)
    writer.writerows(row.csv_fields() for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def parquet_bytes(rows: Sequence[ErpOrderRow]) -> bytes:
    columns = list(zip(*(row.values() for row in rows), strict=True)) if rows else []
    arrays = [
        pa.array(list(columns[i]) if columns else [], type=PARQUET_SCHEMA.field(i).type)
        for i in range(len(HEADERS))
    ]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, schema=PARQUET_SCHEMA), buffer)
    return buffer.getvalue()


def _write_if_changed(path: Path, data: bytes) -> None:
    """Leave a file whose bytes are already these alone (its modification time too)."""
    if path.exists() and path.read_bytes() == data:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # atomic: a reader never sees half a file


def write_erp_export(
    company: DemoCompany,
    folder: str | Path,
    systems: Collection[str] = ERP_CRMS,
    *,
    parquet_months: Collection[str] = (),
    default_format: ExportFormat = "csv",
) -> list[Path]:
    """Write the ERP export of `company` at its as_of into `folder`: one file per month of
    order creation (`sales_orders_YYYY-MM.csv`; months in `parquet_months`, or every month when
    default_format is "parquet", as `.parquet`). Files whose content is unchanged are not
    rewritten; a month that switched format loses its file of the other format. Returns the
    export's files in month order."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    export = render_erp(company.world, company.orders, company.as_of_unix, systems)
    written: list[Path] = []
    for month in sorted(export.months):
        fmt = "parquet" if month in parquet_months else default_format
        rows = export.months[month]
        path = out / f"{FILE_PREFIX}{month}.{fmt}"
        _write_if_changed(path, parquet_bytes(rows) if fmt == "parquet" else csv_bytes(rows))
        other = path.with_suffix(".csv" if fmt == "parquet" else ".parquet")
        other.unlink(missing_ok=True)
        written.append(path)
    return written
