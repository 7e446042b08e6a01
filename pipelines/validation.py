"""Type checks for the fields the event log depends on (ids, timestamps, money).

A row that fails a check is not loaded into its table: it becomes a *reject* row
(``rejects`` table of the system's dataset) that keeps the whole payload and says
which field failed and why. Nothing is silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import dlt
import pyarrow as pa

log = logging.getLogger(__name__)

Checker = Callable[[Any], Any]
"""Returns the (possibly converted) value or raises ValueError with a short reason."""


class Missing(ValueError):
    """Raised when a required field is absent or null."""


def _required(check: Checker) -> Checker:
    def run(value: Any) -> Any:
        if value is None:
            raise Missing("required value is missing")
        return check(value)

    return run


def required(check: Checker) -> Checker:
    """`check` for a value that must be present (None is rejected as missing)."""
    return _required(check)


def optional(check: Checker) -> Checker:
    """`check` for a value that may be absent (None passes unchanged)."""

    def run(value: Any) -> Any:
        return None if value is None else check(value)

    return run


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _text_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise ValueError(f"expected a non-empty id, got {value!r}")
    return str(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _money(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return float(value)


def _minor_units(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer amount in minor units, got {value!r}")
    return value


def _rfc3339(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"expected an RFC3339 timestamp, got {value!r}")
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected an RFC3339 timestamp, got {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp has no time zone: {value!r}")
    return parsed.astimezone(timezone.utc)


def _v1_timestamp(value: Any) -> datetime:
    """Pipedrive v1 writes 'YYYY-MM-DD HH:MM:SS' in UTC (sometimes ISO with 'T'/'Z')."""
    if not isinstance(value, str):
        raise ValueError(f"expected 'YYYY-MM-DD HH:MM:SS', got {value!r}")
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected 'YYYY-MM-DD HH:MM:SS', got {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


UNIX_SECONDS_MAX = 4102444800  # 2100-01-01T00:00:00Z
"""Unix seconds beyond this are not a date of a business record (a value in milliseconds
is beyond it for any moment after 1970-02-17)."""

CURSOR_SKEW = timedelta(days=1)
"""How far in the future a cursor value (the `update_time` or `created` an incremental load
resumes from) may be: clocks differ, but a record changed later than tomorrow is a wrong
value, and a cursor moved to it would skip every real change until then."""


def _unix_seconds(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected unix seconds, got {value!r}")
    if value >= UNIX_SECONDS_MAX:
        unit = " (milliseconds?)" if value < UNIX_SECONDS_MAX * 1000 else ""
        raise ValueError(f"unix seconds {value!r} are after the year 2100{unit}")
    return value


def _not_in_the_future(check: Checker) -> Checker:
    """`check`, then: the timestamp is at most CURSOR_SKEW after now. For the cursor fields
    of incremental loads: a rejected row does not move the cursor."""

    def run(value: Any) -> Any:
        checked = check(value)
        moment = (
            datetime.fromtimestamp(checked, timezone.utc) if isinstance(checked, int) else checked
        )
        latest = datetime.now(timezone.utc) + CURSOR_SKEW
        if moment > latest:
            raise ValueError(
                f"{value!r} is in the future (after {latest:%Y-%m-%dT%H:%M:%SZ}); "
                "not used as the incremental cursor"
            )
        return checked

    return run


REQ_INT = _required(_int)
OPT_INT = optional(_int)
REQ_ID = _required(_text_id)
OPT_ID = optional(_text_id)
OPT_MONEY = optional(_money)
REQ_MONEY = _required(_money)
OPT_BOOL = optional(_bool)
REQ_MINOR = _required(_minor_units)
OPT_MINOR = optional(_minor_units)
REQ_RFC3339 = _required(_rfc3339)
REQ_RFC3339_CURSOR = _required(_not_in_the_future(_rfc3339))
OPT_RFC3339 = optional(_rfc3339)
REQ_V1_TS = _required(_v1_timestamp)
OPT_V1_TS = optional(_v1_timestamp)
REQ_UNIX = _required(_unix_seconds)
REQ_UNIX_CURSOR = _required(_not_in_the_future(_unix_seconds))
OPT_UNIX = optional(_unix_seconds)

FieldSpec = Mapping[str, Checker]
"""Field name (dotted path for nested dicts, e.g. 'status_transitions.paid_at') -> checker."""


@dataclass(frozen=True)
class RowSpec:
    """What a resource's rows must satisfy before they are loaded."""

    resource: str
    fields: FieldSpec
    id_field: str = "id"


def _get(row: Mapping[str, Any], path: str) -> Any:
    current: Any = row
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _set(row: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path, copying nested dicts on the way so the input is never mutated."""
    parts = path.split(".")
    current = row
    for part in parts[:-1]:
        current[part] = dict(current[part])
        current = current[part]
    current[parts[-1]] = value


def check_row(row: Any, spec: RowSpec) -> tuple[dict[str, Any] | None, str | None]:
    """Returns (converted row, None) or (None, reason naming every failing field)."""
    if not isinstance(row, dict):
        return None, f"record is not a JSON object: {type(row).__name__}"
    converted = dict(row)
    problems: list[str] = []
    for path, checker in spec.fields.items():
        nested = "." in path
        value = _get(row, path) if nested else row.get(path)
        try:
            new_value = checker(value)
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
            continue
        if value is not None and new_value is not value:
            if nested:
                _set(converted, path, new_value)
            else:
                converted[path] = new_value
    if problems:
        return None, "; ".join(problems)
    return converted, None


def reject_row(system: str, resource: str, row: Any, reason: str, id_field: str = "id") -> dict:
    payload = json.dumps(row, sort_keys=True, default=str)
    record_id = row.get(id_field) if isinstance(row, dict) else None
    digest = hashlib.sha1(f"{resource}|{payload}".encode()).hexdigest()
    return {
        "reject_id": digest,
        "source_system": system,
        "resource": resource,
        "record_id": None if record_id is None else str(record_id),
        "reason": reason,
        "payload": payload,
        "rejected_at": datetime.now(timezone.utc),
    }


def rejects_hints() -> Any:
    """Fresh hints for each use: dlt may mutate the hints object it is given. The variant
    table inherits the resource's other hints, so its merge key is cleared explicitly (a
    transformer merging on deal_id must not make dlt look for deal_id in rejects)."""
    return dlt.mark.make_hints(
        table_name="rejects",
        write_disposition="merge",
        primary_key="reject_id",
        merge_key=[],
        columns=_reject_columns(),
    )


def _reject_columns() -> Any:
    return {
        "reject_id": {"data_type": "text", "nullable": False},
        "source_system": {"data_type": "text"},
        "resource": {"data_type": "text"},
        "record_id": {"data_type": "text"},
        "reason": {"data_type": "text"},
        "payload": {"data_type": "text"},
        "rejected_at": {"data_type": "timestamp"},
    }


def rejects_table() -> Any:
    """A resource that only declares the `rejects` table (no rows): added to every source by
    pipelines.load, so raw_<system>.rejects exists after every load, empty after a clean one,
    and a query or check of it never fails for want of a reject."""

    @dlt.resource(
        name="rejects",
        write_disposition="merge",
        primary_key="reject_id",
        columns=_reject_columns(),
    )
    def rejects() -> Iterator[Any]:
        yield dlt.mark.materialize_table_schema()

    return rejects


@dataclass
class SplitPage:
    good: list[dict[str, Any]]
    rejects: list[dict[str, Any]]


def split_page(system: str, spec: RowSpec, rows: Iterable[Any]) -> SplitPage:
    good: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for row in rows:
        converted, reason = check_row(row, spec)
        if converted is None:
            rejects.append(reject_row(system, spec.resource, row, reason or "", spec.id_field))
        else:
            good.append(converted)
    return SplitPage(good, rejects)


ArrowTypes = Mapping[str, pa.DataType]
"""Column -> Arrow type for a high-volume resource whose rows dlt should not normalize one by
one. Columns not listed are kept as text (JSON text for non-string values), so new fields in
the API still land, never with a type that could clash between pages."""


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _is_number_or_bool(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)


def to_arrow(rows: list[dict[str, Any]], types: ArrowTypes) -> pa.Table:
    """Rows as an Arrow table with the given column types. Integer, float and boolean columns
    take what pyarrow infers from the values, cast safely: a value of another kind (1.5 or
    "x" for an integer, 1 for a boolean) raises pyarrow.ArrowInvalid (or ArrowTypeError,
    OverflowError) instead of being truncated. A column not in `types` is text, and left
    out while all its values are null."""
    names = list(types)
    if set().union(*rows) - types.keys():
        seen = set(names)
        for row in rows:
            for key in row:
                if key not in seen:
                    seen.add(key)
                    names.append(key)
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        kind = types.get(name, pa.string())
        if name not in types and all(v is None for v in values):
            continue  # like dlt, no column for a field that has only been null so far
        if pa.types.is_string(kind):
            try:
                columns[name] = pa.array(values, type=kind)
            except pa.ArrowTypeError:  # not all text: numbers, objects as JSON text
                columns[name] = pa.array([_as_text(v) for v in values], type=kind)
        elif _is_number_or_bool(kind):
            columns[name] = pa.array(values).cast(kind, safe=True)
        else:
            columns[name] = pa.array(values, type=kind)
    return pa.table(columns)


_NESTED = frozenset((dict, list))  # what JSON decoders make of objects and arrays


class NeedsChildTable(ValueError):
    """A row holds a non-empty list: dlt makes a child table of it, an Arrow table cannot."""


def flatten_dicts(row: dict[str, Any]) -> dict[str, Any]:
    """The row shaped as dlt shapes dict rows for a source with max_table_nesting >= 1: nested
    objects become `parent__child` columns ({"value": {"amount": 1}} -> {"value__amount": 1})
    and empty lists nothing. Raises NeedsChildTable for a non-empty list."""
    for value in row.values():
        if type(value) in _NESTED:
            break
    else:
        return row  # flat already (most rows)
    out: dict[str, Any] = {}
    for key, value in row.items():
        if type(value) is dict:
            for sub, sub_value in flatten_dicts(value).items():
                out[f"{key}__{sub}"] = sub_value
        elif type(value) is list:
            if value:
                raise NeedsChildTable(key)
        else:
            out[key] = value
    return out


def arrow_or_rows(rows: list[dict[str, Any]], types: ArrowTypes, *, flatten: bool = True) -> Any:
    """The page as an Arrow table (dlt writes it without normalizing row by row), or the rows
    themselves when an Arrow table would not load as dlt loads dict rows: a value that does
    not fit its column's type (dlt makes a `<column>__v_<type>` variant column for it) or,
    with `flatten`, a non-empty list (dlt makes a child table of it). So an odd record never
    stops a load and the tables keep dlt's shape. `flatten=False` (a source with
    max_table_nesting=0) keeps nested values as JSON text. pipelines.load makes dlt add
    _dlt_load_id and _dlt_id to Arrow tables too, so both kinds of page can share a table."""
    try:
        shaped = [flatten_dicts(row) for row in rows] if flatten else rows
        return to_arrow(shaped, types)
    except (NeedsChildTable, pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return rows


def emit(
    system: str, spec: RowSpec, rows: Iterable[Any], arrow_types: ArrowTypes | None = None
) -> Iterable[Any]:
    """Yield the good rows to the resource's table (as an Arrow table when `arrow_types` is
    given, see arrow_or_rows) and the bad ones to ``rejects``."""
    yield from emit_split(split_page(system, spec, rows), arrow_types)


def emit_split(page: SplitPage, arrow_types: ArrowTypes | None = None) -> Iterable[Any]:
    """emit() for a page already split; logs a warning naming the first rejects."""
    if page.good:
        yield page.good if arrow_types is None else arrow_or_rows(page.good, arrow_types)
    if page.rejects:
        first = page.rejects[0]
        log.warning(
            "%s.%s: %d row(s) rejected (see raw_%s.rejects), e.g. id %s: %s",
            first["source_system"],
            first["resource"],
            len(page.rejects),
            first["source_system"],
            first["record_id"],
            first["reason"],
        )
        yield dlt.mark.with_hints(page.rejects, rejects_hints(), create_table_variant=True)
