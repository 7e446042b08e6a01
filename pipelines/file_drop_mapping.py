"""The declared mapping of a file-drop source (pipelines/file_drops/<system>.yml): which files
hold which entity, how to read them, and how each source column becomes a typed raw column.

    system: erp
    entities:
      orders:                          # raw table raw_<system>.orders
        files:
          - {glob: "sales_orders_*.csv", format: csv}
          - {glob: "sales_orders_*.parquet", format: parquet}
        csv: {delimiter: ";", encoding: utf-8-sig, decimal_separator: ",",
              timestamp_formats: ["%d.%m.%Y %H:%M:%S %z"]}
        time_zone: Europe/Berlin       # for timestamps written without an offset
        primary_key: [order_no]
        unknown_columns: load          # load (as text) | ignore | reject (the file)
        columns:
          Order No:   {name: order_no, type: string}
          Order Date: {name: order_date, type: timestamp, not_null: true}
          Net Amount: {name: net_amount, type: decimal}
          Sales Rep:  {name: sales_rep, required: false}

A column is `required` (default) when the file must have its header, `not_null` when every
row must have a value; primary-key columns are both. Headers match case-insensitively, ignoring
surrounding spaces. `load_mapping` checks all of it and raises MappingError listing every
problem with its place in the file. Checks of the loaded table (key unique, timestamps in
range, amounts not negative) are not mapping keys but dbt tests on the system's source
(models/staging/<system>/_<system>__sources.yml).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

TYPES = ("string", "integer", "decimal", "timestamp", "date")
FORMATS = ("csv", "parquet")
UNKNOWN_COLUMN_POLICIES = ("load", "ignore", "reject")
SYSTEM_KINDS = ("crm", "finance", "erp")
RESERVED_TABLES = ("rejects", "source_files")
DECIMAL_SCALE = 9  # raw decimals are DECIMAL(38, 9)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PROBE = datetime(2001, 2, 3, 4, 5, 6, tzinfo=timezone.utc)


class MappingError(ValueError):
    """The mapping file itself is invalid; the message lists every problem."""


@dataclass(frozen=True)
class ColumnSpec:
    header: str  # as declared in the mapping
    name: str  # raw column name
    type: str = "string"
    required: bool = True  # the file must have this header
    not_null: bool = False  # every row must have a value
    formats: tuple[str, ...] = ()  # timestamp/date formats (strptime); empty = ISO 8601


@dataclass(frozen=True)
class FileGlob:
    glob: str
    format: str


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    quotechar: str = '"'
    encoding: str = "utf-8-sig"
    decimal_separator: str = "."
    thousands_separator: str = ""
    null_values: tuple[str, ...] = ("",)
    timestamp_formats: tuple[str, ...] = ()
    date_formats: tuple[str, ...] = ()


@dataclass(frozen=True)
class EntityMapping:
    name: str  # raw table name
    files: tuple[FileGlob, ...]
    primary_key: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]
    csv: CsvOptions = field(default_factory=CsvOptions)
    time_zone: str = "UTC"
    unknown_columns: str = "load"

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    def by_header(self) -> dict[str, ColumnSpec]:
        return {header_key(c.header): c for c in self.columns}

    def formats_for(self, column: ColumnSpec) -> tuple[str, ...]:
        if column.formats:
            return column.formats
        if column.type == "timestamp":
            return self.csv.timestamp_formats
        if column.type == "date":
            return self.csv.date_formats
        return ()

    def fingerprint(self) -> str:
        """Changes when anything about reading this entity changes (files are then re-read)."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FileDropMapping:
    system: str
    entities: tuple[EntityMapping, ...]
    origin: str = "<mapping>"
    kind: str = "erp"  # crm | finance | erp: the system's role in the warehouse (manifest)
    # the canonical entities its staging models output (stg_<system>__<entity>s); default:
    # the raw entities' names
    warehouse_entities: tuple[str, ...] = ()
    # the canonical activities (activity catalog; 'Stage Entered: *' for every stage entry) its
    # events record; None: derived from its warehouse entities (pipelines.manifest)
    observes: tuple[str, ...] | None = None
    # finance / erp: the CRM systems whose cases its records join; None: every CRM
    links_to: tuple[str, ...] | None = None


def header_key(header: str) -> str:
    return header.strip().casefold()


# ---------------------------------------------------------------- validation


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def _check_keys(raw: Mapping[str, Any], allowed: Sequence[str], where: str, p: _Problems) -> None:
    for key in raw:
        if key not in allowed:
            p.add(where, f"unknown key {key!r}; allowed: {', '.join(allowed)}")


def _mapping(value: Any, where: str, p: _Problems) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    p.add(where, f"expected a mapping, got {type(value).__name__}")
    return {}


def _string_list(value: Any, where: str, p: _Problems) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        p.add(where, "expected a string or a list of strings")
        return ()
    return tuple(value)


def _check_format(fmt: str, kind: str, where: str, p: _Problems) -> None:
    probe: date | datetime = _PROBE if kind == "timestamp" else _PROBE.date()
    try:
        text = probe.strftime(fmt)
        parsed = datetime.strptime(text, fmt)
    except ValueError as exc:
        p.add(where, f"format {fmt!r} is not a valid strptime format: {exc}")
        return
    if "%" not in fmt or parsed.date() != _PROBE.date():
        p.add(where, f"format {fmt!r} does not read back a full date")


def _bool(value: Any, default: bool, where: str, p: _Problems) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        p.add(where, f"expected true or false, got {value!r}")
        return default
    return value


def _parse_csv(raw: Any, where: str, p: _Problems) -> CsvOptions:
    if raw is None:
        return CsvOptions()
    data = _mapping(raw, where, p)
    _check_keys(data, list(CsvOptions.__dataclass_fields__), where, p)
    opts = CsvOptions()
    values: dict[str, Any] = {}
    for key in ("delimiter", "quotechar"):
        if key in data:
            if not isinstance(data[key], str) or len(data[key]) != 1:
                p.add(f"{where}.{key}", f"expected one character, got {data[key]!r}")
            else:
                values[key] = data[key]
    if "encoding" in data:
        try:
            codecs.lookup(str(data["encoding"]))
            values["encoding"] = str(data["encoding"])
        except LookupError:
            p.add(f"{where}.encoding", f"unknown encoding {data['encoding']!r}")
    if "decimal_separator" in data:
        if data["decimal_separator"] not in (".", ","):
            p.add(f"{where}.decimal_separator", "expected '.' or ','")
        else:
            values["decimal_separator"] = data["decimal_separator"]
    if "thousands_separator" in data:
        sep = data["thousands_separator"]
        if sep not in ("", ".", ",", " ", "'"):
            p.add(f"{where}.thousands_separator", "expected one of '', '.', ',', ' ', \"'\"")
        else:
            values["thousands_separator"] = sep
    for key in ("null_values", "timestamp_formats", "date_formats"):
        if key in data:
            values[key] = _string_list(data[key], f"{where}.{key}", p)
    for fmt in values.get("timestamp_formats", ()):
        _check_format(fmt, "timestamp", f"{where}.timestamp_formats", p)
    for fmt in values.get("date_formats", ()):
        _check_format(fmt, "date", f"{where}.date_formats", p)
    merged = {**asdict(opts), **values}
    for key in ("null_values", "timestamp_formats", "date_formats"):
        merged[key] = tuple(merged[key])
    result = CsvOptions(**merged)
    if result.thousands_separator and result.thousands_separator == result.decimal_separator:
        p.add(where, "thousands_separator and decimal_separator must differ")
    if result.delimiter in (result.decimal_separator, result.thousands_separator):
        p.add(where, f"delimiter {result.delimiter!r} clashes with a number separator")
    return result


def _parse_files(raw: Any, where: str, p: _Problems) -> tuple[FileGlob, ...]:
    if not isinstance(raw, list) or not raw:
        p.add(where, "expected a non-empty list of {glob, format}")
        return ()
    out = []
    for i, item in enumerate(raw):
        spot = f"{where}[{i}]"
        data = _mapping(item, spot, p)
        _check_keys(data, ("glob", "format"), spot, p)
        glob, fmt = data.get("glob"), data.get("format")
        if not isinstance(glob, str) or not glob.strip():
            p.add(f"{spot}.glob", "expected a file pattern such as 'orders_*.csv'")
            continue
        pure = PurePosixPath(glob)
        if pure.is_absolute() or ".." in pure.parts:
            p.add(f"{spot}.glob", f"{glob!r} must be relative to the folder, without '..'")
        if fmt not in FORMATS:
            p.add(f"{spot}.format", f"expected one of {', '.join(FORMATS)}, got {fmt!r}")
            continue
        out.append(FileGlob(glob, fmt))
    return tuple(out)


def _parse_column(header: Any, raw: Any, where: str, p: _Problems) -> ColumnSpec | None:
    if not isinstance(header, str) or not header.strip():
        p.add(where, f"a column header must be a non-empty string, got {header!r}")
        return None
    data = _mapping(raw, where, p)
    if "non_negative" in data:
        p.add(
            f"{where}.non_negative",
            "raw-data checks are dbt source tests now: remove it here and list `non_negative` "
            "in the column's data_tests in models/staging/<system>/_<system>__sources.yml",
        )
    _check_keys(data, ("name", "type", "required", "not_null", "formats", "non_negative"), where, p)
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        p.add(f"{where}.name", f"expected a snake_case raw column name, got {name!r}")
        return None
    kind = data.get("type", "string")
    if kind not in TYPES:
        p.add(f"{where}.type", f"unknown type {kind!r}; use one of {', '.join(TYPES)}")
        return None
    formats = _string_list(data.get("formats", []), f"{where}.formats", p)
    if formats and kind not in ("timestamp", "date"):
        p.add(f"{where}.formats", f"formats apply to timestamp and date columns, not {kind}")
    for fmt in formats if kind in ("timestamp", "date") else ():
        _check_format(fmt, kind, f"{where}.formats", p)
    return ColumnSpec(
        header=header,
        name=name,
        type=kind,
        required=_bool(data.get("required"), True, f"{where}.required", p),
        not_null=_bool(data.get("not_null"), False, f"{where}.not_null", p),
        formats=formats,
    )


def _parse_columns(raw: Any, where: str, p: _Problems) -> tuple[ColumnSpec, ...]:
    data = _mapping(raw, where, p)
    if not data:
        p.add(where, "declare at least one column (source header -> {name, type})")
    columns: list[ColumnSpec] = []
    for header, spec in data.items():
        column = _parse_column(header, spec, f"{where}[{header!r}]", p)
        if column is not None:
            columns.append(column)
    seen_headers: dict[str, str] = {}
    seen_names: set[str] = set()
    for column in columns:
        key = header_key(column.header)
        if key in seen_headers:
            p.add(where, f"headers {seen_headers[key]!r} and {column.header!r} are the same")
        seen_headers[key] = column.header
        if column.name in seen_names:
            p.add(where, f"raw column name {column.name!r} is used twice")
        seen_names.add(column.name)
    return tuple(columns)


def _parse_entity(name: Any, raw: Any, where: str, p: _Problems) -> EntityMapping | None:
    if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED_TABLES:
        p.add(where, f"entity name {name!r} must be snake_case and not {RESERVED_TABLES}")
        return None
    data = _mapping(raw, where, p)
    allowed = ("files", "csv", "time_zone", "primary_key", "unknown_columns", "columns")
    _check_keys(data, allowed, where, p)
    files = _parse_files(data.get("files"), f"{where}.files", p)
    csv_opts = _parse_csv(data.get("csv"), f"{where}.csv", p)
    time_zone = data.get("time_zone", "UTC")
    try:
        ZoneInfo(str(time_zone))
    except (ZoneInfoNotFoundError, ValueError):
        p.add(f"{where}.time_zone", f"unknown time zone {time_zone!r} (use e.g. Europe/Berlin)")
    policy = data.get("unknown_columns", "load")
    if policy not in UNKNOWN_COLUMN_POLICIES:
        p.add(f"{where}.unknown_columns", f"expected one of {', '.join(UNKNOWN_COLUMN_POLICIES)}")
    columns = _parse_columns(data.get("columns"), f"{where}.columns", p)
    key = _string_list(data.get("primary_key", []), f"{where}.primary_key", p)
    if not key:
        p.add(f"{where}.primary_key", "declare the raw column(s) that identify a row")
    by_name = {c.name: c for c in columns}
    resolved = []
    for part in key:
        column = by_name.get(part)
        if column is None:
            p.add(f"{where}.primary_key", f"{part!r} is not a declared raw column name")
            continue
        if not column.required:
            p.add(f"{where}.primary_key", f"key column {part!r} cannot be required: false")
        resolved.append(part)
    columns = tuple(
        ColumnSpec(c.header, c.name, c.type, c.required, True, c.formats)
        if c.name in resolved
        else c
        for c in columns
    )
    return EntityMapping(
        name=name,
        files=files,
        primary_key=tuple(resolved),
        columns=columns,
        csv=csv_opts,
        time_zone=str(time_zone),
        unknown_columns=str(policy),
    )


def parse_mapping(raw: Any, origin: str = "<mapping>") -> FileDropMapping:
    """Validate a loaded YAML document; raise MappingError listing every problem."""
    p = _Problems()
    data = _mapping(raw, "mapping", p)
    _check_keys(
        data,
        ("system", "description", "kind", "warehouse_entities", "observes", "links_to", "entities"),
        "mapping",
        p,
    )
    system = data.get("system")
    if not isinstance(system, str) or not _NAME.match(system):
        p.add("system", f"expected a snake_case system name such as 'erp', got {system!r}")
    kind = data.get("kind", "erp")
    if kind not in SYSTEM_KINDS:
        p.add("kind", f"expected one of {', '.join(SYSTEM_KINDS)}, got {kind!r}")
    warehouse_entities = _string_list(data.get("warehouse_entities", []), "warehouse_entities", p)
    observes = _string_list(data["observes"], "observes", p) if "observes" in data else None
    links_to = _string_list(data["links_to"], "links_to", p) if "links_to" in data else None
    if links_to is not None and kind == "crm":
        p.add("links_to", "a crm system's cases are its own: links_to is for finance and erp")
    entities_raw = _mapping(data.get("entities"), "entities", p)
    if not entities_raw:
        p.add("entities", "declare at least one entity")
    entities = [
        entity
        for name, spec in entities_raw.items()
        if (entity := _parse_entity(name, spec, f"entities.{name}", p)) is not None
    ]
    if p.items:
        listed = "\n".join(f"  - {item}" for item in p.items)
        raise MappingError(f"{origin}: invalid file-drop mapping ({len(p.items)}):\n{listed}")
    return FileDropMapping(
        str(system),
        tuple(entities),
        origin,
        kind=str(kind),
        warehouse_entities=warehouse_entities or tuple(e.name for e in entities),
        observes=observes,
        links_to=links_to,
    )


def load_mapping(path: str | Path) -> FileDropMapping:
    source = Path(path)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"{source}: mapping file not found") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{source}: not valid YAML: {exc}") from None
    return parse_mapping(raw, str(source))


# ---------------------------------------------------------------- value conversion


class ValueProblem(ValueError):
    """A value that does not fit its declared type; the message says why."""


def _is_null(value: Any, nulls: Sequence[str]) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in nulls)


def _to_string(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an id typed as a double in Parquet: 3.0e14 -> '300000000000000'
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _number_text(text: str, opts: CsvOptions) -> str:
    """Locale number text -> '1234.5' (SAP's trailing minus '1.234,50-' included)."""
    body = text.strip()
    negative = body.endswith("-") and not body.startswith("-")
    if negative:
        body = body[:-1].strip()
    dec, thou = opts.decimal_separator, opts.thousands_separator
    if thou:
        grouped = rf"[+-]?\d{{1,3}}({re.escape(thou)}\d{{3}})+({re.escape(dec)}\d+)?"
        if re.fullmatch(grouped, body):
            body = body.replace(thou, "")
    if not re.fullmatch(rf"[+-]?(\d+({re.escape(dec)}\d*)?|{re.escape(dec)}\d+)", body):
        raise ValueProblem(f"{text!r} is not a number (decimal separator {dec!r})")
    body = body.replace(dec, ".")
    return f"-{body}" if negative else body


def _to_decimal(value: Any, opts: CsvOptions) -> Decimal:
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not a number")
    if isinstance(value, Decimal | int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        try:
            number = Decimal(_number_text(str(value), opts))
        except InvalidOperation:
            raise ValueProblem(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueProblem(f"{value!r} is not a finite number")
    quantized = number.quantize(Decimal(1).scaleb(-DECIMAL_SCALE))
    if len(quantized.as_tuple().digits) > 38:
        raise ValueProblem(f"{value!r} has more than 38 digits")
    return quantized


def _to_integer(value: Any, opts: CsvOptions) -> int:
    number = _to_decimal(value, opts)
    if number != number.to_integral_value():
        raise ValueProblem(f"{value!r} is not a whole number")
    return int(number)


def _to_utc(moment: datetime, zone: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(timezone.utc)


def _parse_time(text: str, formats: Sequence[str], kind: str) -> datetime:
    if not formats:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueProblem(f"{text!r} is not an ISO 8601 {kind}") from None
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    listed = " or ".join(repr(f) for f in formats)
    raise ValueProblem(f"{text!r} does not match the {kind} format {listed}")


def convert(value: Any, column: ColumnSpec, entity: EntityMapping) -> Any:
    """The raw value of one cell (CSV text or a typed Parquet value) as the column's type;
    None for a null. Raises ValueProblem with a readable reason."""
    opts = entity.csv
    if _is_null(value, opts.null_values):
        if column.not_null:
            raise ValueProblem("a value is required but the cell is empty")
        return None
    if isinstance(value, str):
        value = value.strip()
    kind = column.type
    if kind == "string":
        return _to_string(value)
    if kind == "decimal":
        return _to_decimal(value, opts)
    if kind == "integer":
        return _to_integer(value, opts)
    zone = ZoneInfo(entity.time_zone)
    if kind == "timestamp":
        if isinstance(value, datetime):
            return _to_utc(value, zone)
        if isinstance(value, date):
            return _to_utc(datetime(value.year, value.month, value.day), zone)
        return _to_utc(_parse_time(str(value), entity.formats_for(column), "timestamp"), zone)
    # date
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return _parse_time(str(value), entity.formats_for(column), "date").date()
