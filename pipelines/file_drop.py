"""File-drop source: CSV / Parquet exports in a folder, read through a declared mapping
(pipelines/file_drops/<system>.yml, see pipelines/file_drop_mapping.py) into raw_<system>.

One resource per entity of the mapping writes raw_<system>.<entity>: the mapped columns, typed
(timestamps in UTC), plus `_source_file` (path relative to the folder) and `_source_row` (data
row, 1 = first row after the header), merged on the declared primary key.

Which files are read: every run lists the files matching the entity's globs and hashes them
(sha256). A file is parsed only when it is new, its content changed, or the entity's mapping
changed since the file was last read (dlt resource state: file name -> content hash and mapping
fingerprint). A changed file is re-read whole and its rows merge by key, so re-exported files
(an ERP rewriting last month's file with fulfilment dates) update rows in place, and a re-run
with nothing new loads nothing. Rows are never deleted: a row that disappears from a file, or a
file that is removed, keeps its last loaded version. The state also keeps each file's keys: when
a new or changed file shares a key with a file not read this run, every file is read again, so
the outcome is the one a first run over all the files gives, whatever order they arrived in.

Bad input is loaded around, never dropped, and reported:
- a file whose header lacks a required column (or has an unknown one under
  `unknown_columns: reject`, or repeats a column), or that cannot be decoded, is rejected whole;
- a row with a value that does not parse as its column's type, a missing required value or the
  wrong number of fields is rejected;
- a row whose primary key is in an earlier row (same file, or an earlier file in name order,
  read in this run or before) is rejected and names the first occurrence; the first one loads.
Every rejection is a row of raw_<system>.rejects (file, row, column, reason, payload; the
pipelines.validation conventions), every file read gets a row in raw_<system>.source_files
(hash, status, row counts, error), a rejected file is copied to `quarantine_folder` when one is
configured, and the run logs a readable summary (WARNING when anything was rejected). The run
itself succeeds: the good files and rows are loaded, and a rejected file is read again only
once it (or the mapping) changes.

Configuration (dlt config/secrets or environment; <SYSTEM> is the mapping's system, e.g. ERP):
    SOURCES__<SYSTEM>__FOLDER                 required: the folder the exports are dropped in
    SOURCES__<SYSTEM>__MAPPING                default pipelines/file_drops/<system>.yml
    SOURCES__<SYSTEM>__QUARANTINE_FOLDER      optional: copies of rejected files go here
    SOURCES__<SYSTEM>__MIN_FILE_AGE_SECONDS   default 0: skip files modified more recently
                                              (still being written); they load next run
    SOURCES__<SYSTEM>__REREAD_ALL             default false: read every file this run, even
                                              unchanged ones (rows merge; nothing duplicates)
    SOURCES__<SYSTEM>__READY_MARKER_SUFFIX    optional, e.g. .done: read a file only once a
                                              file of its name plus this suffix exists (the
                                              exporter writes it when the file is complete)
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.parquet as pq
from dlt.sources import DltResource, DltSource

from pipelines.file_drop_mapping import (
    DECIMAL_SCALE,
    ColumnSpec,
    CsvOptions,
    EntityMapping,
    FileDropMapping,
    MappingError,
    ValueProblem,
    convert,
    header_key,
    load_mapping,
)
from pipelines.validation import reject_row, rejects_hints, to_arrow

MAPPINGS_DIR = Path(__file__).resolve().parent / "file_drops"
SUMMARY_LINES = 20
log = logging.getLogger(__name__)

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.decimal128(38, DECIMAL_SCALE),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


class FileProblem(ValueError):
    """The whole file cannot be read as the entity; the message says why."""


@dataclass(frozen=True)
class RawRow:
    row: int  # data row: 1 = the first row after the header
    line: int | None  # CSV line where the row ends (None for Parquet)
    values: list[Any]

    def where(self) -> str:
        return f"row {self.row}" + (f" (line {self.line})" if self.line is not None else "")


@dataclass
class FileResult:
    """What reading one file version produced."""

    file: str
    sha256: str
    format: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # readable, one per reject
    error: str | None = None  # the file was rejected whole
    rows_read: int = 0
    keys: set[str] = field(default_factory=set)  # keys of its rows whose values parsed

    @property
    def status(self) -> str:
        if self.error is not None:
            return "rejected"
        return "loaded_with_rejects" if self.rejects else "loaded"


# ---------------------------------------------------------------- reading files


def _read_csv(data: bytes, opts: CsvOptions) -> tuple[list[str], list[RawRow]]:
    try:
        text = data.decode(opts.encoding)
    except UnicodeDecodeError as exc:
        raise FileProblem(
            f"not {opts.encoding} text (byte {exc.start}: {exc.reason}); "
            "set csv.encoding in the mapping"
        ) from None
    text = text.removeprefix("\ufeff")
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=opts.delimiter,
        quotechar=opts.quotechar,
        strict=True,
    )
    rows: list[RawRow] = []
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise FileProblem("the file is empty: no header row")
        for number, values in enumerate(reader, start=1):
            if any(value.strip() for value in values):  # blank lines carry no data
                rows.append(RawRow(number, reader.line_num, values))
    except csv.Error as exc:
        raise FileProblem(f"line {reader.line_num}: not valid CSV: {exc}") from None
    return header, rows


def _read_parquet(data: bytes) -> tuple[list[str], list[RawRow]]:
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError) as exc:
        raise FileProblem(f"not a readable Parquet file: {exc}") from None
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows = [RawRow(i + 1, None, [column[i] for column in columns]) for i in range(table.num_rows)]
    return list(table.column_names), rows


def read_rows(data: bytes, fmt: str, opts: CsvOptions) -> tuple[list[str], list[RawRow]]:
    """Header and data rows of one file's bytes; FileProblem when it cannot be read."""
    if fmt == "parquet":
        return _read_parquet(data)
    header, rows = _read_csv(data, opts)
    if (
        len(header) == 1
        and opts.delimiter not in header[0]
        and any(d in header[0] for d in ",;\t|" if d != opts.delimiter)
    ):
        raise FileProblem(
            f"the header {header[0]!r} is not split by the delimiter {opts.delimiter!r}"
        )
    return header, rows


# ---------------------------------------------------------------- header and rows


@dataclass(frozen=True)
class Layout:
    """Where each column of the entity is in one file."""

    mapped: list[tuple[int, ColumnSpec]]
    absent: list[ColumnSpec]  # optional columns the file lacks: loaded as null
    extra: list[tuple[int, str]]  # (position, raw name) of unknown columns that are loaded
    width: int


def _extra_name(header: str, position: int, taken: set[str]) -> str:
    name = re.sub(r"[^0-9a-z]+", "_", header.casefold()).strip("_") or f"column_{position + 1}"
    if name[0].isdigit():
        name = f"c_{name}"
    if name in taken or name.startswith("_"):
        name = f"{name.lstrip('_')}_{position + 1}"
    return name


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


def match_header(header: Sequence[Any], entity: EntityMapping) -> Layout:
    """Map the file's header to the entity's columns; FileProblem names the wrong columns."""
    wanted = entity.by_header()
    positions: dict[str, int] = {}
    repeated: list[str] = []
    unknown: list[tuple[int, str]] = []
    for pos, cell in enumerate(header):
        text = str(cell).strip()
        key = header_key(text)
        if key in positions and key:
            repeated.append(text)
            continue
        positions[key] = pos
        if key not in wanted:
            unknown.append((pos, text))
    missing = [
        c.header for c in entity.columns if c.required and header_key(c.header) not in positions
    ]
    problems = []
    if missing:
        problems.append(f"missing required column(s) {_quoted(missing)}")
    if repeated:
        problems.append(f"column(s) {_quoted(repeated)} appear more than once")
    named_unknown = [text for _, text in unknown if text]
    if named_unknown and entity.unknown_columns == "reject":
        problems.append(f"unknown column(s) {_quoted(named_unknown)}")
    if problems:
        found = _quoted([str(c).strip() for c in header])
        raise FileProblem(f"{'; '.join(problems)} (the file's columns: {found})")
    mapped = [(positions[key], column) for key, column in wanted.items() if key in positions]
    absent = [column for key, column in wanted.items() if key not in positions]
    extra: list[tuple[int, str]] = []
    if entity.unknown_columns == "load":
        taken = {c.name for c in entity.columns}
        for pos, text in unknown:
            name = _extra_name(text, pos, taken)
            taken.add(name)
            extra.append((pos, name))
    return Layout(mapped, absent, extra, len(header))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _record_id(row: dict[str, Any], entity: EntityMapping) -> str | None:
    parts = [row.get(k) for k in entity.primary_key]
    if any(p is None for p in parts):
        return None
    return "|".join(str(p) for p in parts)


class FileReader:
    """Reads the file versions of one entity in one run; remembers the keys seen so far."""

    def __init__(self, system: str, entity: EntityMapping) -> None:
        self.system = system
        self.entity = entity
        self.first_seen: dict[tuple[Any, ...], str] = {}

    def _reject(
        self,
        result: FileResult,
        raw: RawRow | None,
        payload: dict[str, Any],
        columns: Sequence[str],
        reason: str,
        record_id: str | None = None,
        duplicate_of: str | None = None,
    ) -> None:
        where = result.file if raw is None else f"{result.file} {raw.where()}"
        if columns:
            where += f", column {_quoted(columns)}"
        result.problems.append(f"{where}: {reason}")
        row = reject_row(self.system, self.entity.name, payload, reason)
        identity = [self.system, self.entity.name, result.file, raw and raw.row, payload]
        row.update(
            reject_id=hashlib.sha1(json.dumps(identity, default=str).encode()).hexdigest(),
            record_id=record_id,
            source_file=result.file,
            source_row=None if raw is None else raw.row,
            source_line=None if raw is None else raw.line,
            column_name=", ".join(columns) or None,
            duplicate_of=duplicate_of,
            file_sha256=result.sha256,
        )
        result.rejects.append(row)

    def read(self, file: str, fmt: str, data: bytes) -> FileResult:
        sha = hashlib.sha256(data).hexdigest()
        result = FileResult(file, sha, fmt)
        try:
            header, rows = read_rows(data, fmt, self.entity.csv)
            result.rows_read = len(rows)
            layout = match_header(header, self.entity)
        except FileProblem as exc:
            result.error = f"file rejected: {exc}"
            self._reject(result, None, {"file": file, "sha256": sha}, [], result.error)
            return result
        if fmt == "csv" and rows and not data.endswith((b"\n", b"\r")):
            log.warning(
                "%s.%s: %s does not end with a line break; if it was still being written, its "
                "last row may be cut (READY_MARKER_SUFFIX or MIN_FILE_AGE_SECONDS wait for it)",
                self.system,
                self.entity.name,
                file,
            )
        for raw in rows:
            self._read_row(result, header, layout, raw)
        return result

    def _read_row(
        self, result: FileResult, header: Sequence[Any], layout: Layout, raw: RawRow
    ) -> None:
        payload = {str(h).strip(): _text(v) for h, v in zip(header, raw.values, strict=False)}
        if len(raw.values) != layout.width:
            payload["(fields)"] = [_text(v) for v in raw.values]
            reason = f"has {len(raw.values)} fields, the header has {layout.width}"
            self._reject(result, raw, payload, [], reason)
            return
        row: dict[str, Any] = {column.name: None for column in layout.absent}
        bad: list[tuple[str, str]] = []
        for pos, column in layout.mapped:
            try:
                row[column.name] = convert(raw.values[pos], column, self.entity)
            except ValueProblem as exc:
                bad.append((column.header, str(exc)))
        for pos, name in layout.extra:
            row[name] = _text(raw.values[pos])
        record_id = _record_id(row, self.entity)
        if bad:
            reason = "; ".join(f"{header!r}: {why}" for header, why in bad)
            self._reject(result, raw, payload, [h for h, _ in bad], reason, record_id)
            return
        key = tuple(row[k] for k in self.entity.primary_key)
        result.keys.add(json.dumps(key, default=str))
        first = self.first_seen.get(key)
        if first is not None:
            headers = [self.entity.column(k).header for k in self.entity.primary_key]
            reason = f"duplicate {_quoted(headers)} {record_id!r}: first seen in {first}"
            self._reject(result, raw, payload, headers, reason, record_id, duplicate_of=first)
            return
        self.first_seen[key] = f"{result.file} {raw.where()}"
        row["_source_file"] = result.file
        row["_source_row"] = raw.row
        result.rows.append(row)

    def arrow(self, rows: list[dict[str, Any]]) -> pa.Table:
        types = {c.name: ARROW_TYPES[c.type] for c in self.entity.columns}
        types.update(_source_file=pa.string(), _source_row=pa.int64())
        return to_arrow(rows, types)


# ---------------------------------------------------------------- dlt resources


def files_hints() -> Any:
    """The per-file manifest table (fresh hints for each use, like rejects_hints)."""
    return dlt.mark.make_hints(
        table_name="source_files",
        write_disposition="merge",
        primary_key=["entity", "file"],
        columns={
            "entity": {"data_type": "text", "nullable": False},
            "file": {"data_type": "text", "nullable": False},
            "format": {"data_type": "text"},
            "file_sha256": {"data_type": "text"},
            "size_bytes": {"data_type": "bigint"},
            "modified_at": {"data_type": "timestamp"},
            "status": {"data_type": "text"},
            "rows_read": {"data_type": "bigint"},
            "rows_loaded": {"data_type": "bigint"},
            "rows_rejected": {"data_type": "bigint"},
            "error": {"data_type": "text"},
            "mapping_fingerprint": {"data_type": "text"},
            "read_at": {"data_type": "timestamp"},
        },
    )


def matching_files(folder: Path, entity: EntityMapping) -> list[tuple[Path, str]]:
    """(path, format) of the entity's files, in name order (the order rows are read in)."""
    found: dict[Path, str] = {}
    for pattern in entity.files:
        for path in folder.glob(pattern.glob):
            if path.is_file() and not path.name.startswith("."):
                found.setdefault(path, pattern.format)
    return sorted(found.items(), key=lambda item: item[0].relative_to(folder).as_posix())


@dataclass
class RunSummary:
    system: str
    entity: str
    matched: int = 0
    unchanged: int = 0
    too_new: int = 0
    not_ready: int = 0
    results: list[FileResult] = field(default_factory=list)

    def render(self) -> str:
        read = len(self.results)
        loaded = sum(len(r.rows) for r in self.results)
        bad_files = [r for r in self.results if r.error is not None]
        bad_rows = sum(len(r.rejects) for r in self.results if r.error is None)
        head = (
            f"{self.system}.{self.entity}: {self.matched} file(s) matched, {read} read "
            f"({self.unchanged} unchanged"
            + (f", {self.too_new} too new, next run" if self.too_new else "")
            + (f", {self.not_ready} without ready marker, next run" if self.not_ready else "")
            + f"); {loaded} row(s) loaded"
        )
        if not bad_files and not bad_rows:
            return head
        head += (
            f"; REJECTED {len(bad_files)} file(s) and {bad_rows} row(s), "
            f"see raw_{self.system}.rejects:"
        )
        problems = [p for r in self.results for p in r.problems]
        lines = [f"  - {p}" for p in problems[:SUMMARY_LINES]]
        if len(problems) > SUMMARY_LINES:
            lines.append(f"  ... and {len(problems) - SUMMARY_LINES} more")
        return "\n".join([head, *lines])

    @property
    def has_rejects(self) -> bool:
        return any(r.rejects for r in self.results)


def _manifest_row(result: FileResult, path: Path, entity: EntityMapping) -> dict[str, Any]:
    stat = path.stat()
    return {
        "entity": entity.name,
        "file": result.file,
        "format": result.format,
        "file_sha256": result.sha256,
        "size_bytes": stat.st_size,
        "modified_at": datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc),
        "status": result.status,
        "rows_read": result.rows_read,
        "rows_loaded": len(result.rows),
        "rows_rejected": len(result.rejects) if result.error is None else result.rows_read,
        "error": result.error,
        "mapping_fingerprint": entity.fingerprint(),
        "read_at": datetime.now(timezone.utc),
    }


def entity_resource(
    system: str,
    entity: EntityMapping,
    folder: Path,
    quarantine_folder: Path | None = None,
    min_file_age_seconds: float = 0.0,
    reread_all: bool = False,
    ready_suffix: str | None = None,
) -> DltResource:
    @dlt.resource(
        name=entity.name,
        primary_key=list(entity.primary_key),
        write_disposition="merge",
    )
    def read_entity() -> Iterator[Any]:
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{system}: the drop folder {folder} does not exist "
                f"(SOURCES__{system.upper()}__FOLDER)"
            )
        state = dlt.current.resource_state()
        known: dict[str, dict[str, str]] = state.setdefault("files", {})
        keys_of: dict[str, list[str]] = state.setdefault("keys", {})
        fingerprint = entity.fingerprint()
        summary = RunSummary(system, entity.name)
        newest_allowed = time.time() - min_file_age_seconds
        present: list[tuple[Path, str, str, bytes]] = []  # path, format, file, content
        changed: set[str] = set()
        for path, fmt in matching_files(folder, entity):
            summary.matched += 1
            if min_file_age_seconds and path.stat().st_mtime > newest_allowed:
                summary.too_new += 1
                continue
            if ready_suffix and not path.with_name(path.name + ready_suffix).exists():
                summary.not_ready += 1
                continue
            file = path.relative_to(folder).as_posix()
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            present.append((path, fmt, file, data))
            if reread_all or known.get(file) != {"sha256": sha, "mapping": fingerprint}:
                changed.add(file)
        results = _read_files(FileReader(system, entity), present, changed)
        if changed and _keys_shared(results, keys_of, [f for *_, f, _ in present], changed):
            # another file holds one of these keys: which row wins depends on all the files
            # (the first in name order), so all are read, as a first run would read them
            log.warning(
                "%s.%s: a key of a new or changed file is also in another file; every file "
                "is read again (the first file in name order keeps the key)",
                system,
                entity.name,
            )
            changed = {file for *_, file, _ in present}
            results = _read_files(FileReader(system, entity), present, changed)
        summary.unchanged = len(present) - len(changed)
        to_arrow_table = FileReader(system, entity).arrow
        for (path, _fmt, file, _data), result in zip(
            [p for p in present if p[2] in changed], results, strict=True
        ):
            summary.results.append(result)
            if result.rows:
                yield to_arrow_table(result.rows)
            if result.rejects:
                yield dlt.mark.with_hints(
                    result.rejects, rejects_hints(), create_table_variant=True
                )
            yield dlt.mark.with_hints(
                [_manifest_row(result, path, entity)], files_hints(), create_table_variant=True
            )
            if result.error is not None and quarantine_folder is not None:
                target = quarantine_folder / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
            known[file] = {"sha256": result.sha256, "mapping": fingerprint}
            keys_of[file] = sorted(result.keys)
        if summary.matched == 0:
            globs = ", ".join(g.glob for g in entity.files)
            log.warning("%s.%s: no file in %s matches %s", system, entity.name, folder, globs)
        elif summary.has_rejects:
            log.warning("%s", summary.render())
        else:
            log.info("%s", summary.render())

    return read_entity


def _read_files(
    reader: FileReader, present: list[tuple[Path, str, str, bytes]], files: set[str]
) -> list[FileResult]:
    """The results of reading `files` (of `present`, in its name order) with one reader."""
    return [reader.read(file, fmt, data) for _path, fmt, file, data in present if file in files]


def _keys_shared(
    results: list[FileResult],
    keys_of: dict[str, list[str]],
    present: list[str],
    changed: set[str],
) -> bool:
    """Whether a key of a file read now (its new keys, or the keys it had before it changed)
    is also a key of a file not read now; True when that is unknown (a file read before the
    keys were kept)."""
    others: set[str] = set()
    for file in present:
        if file in changed:
            continue
        if file not in keys_of:
            return True
        others.update(keys_of[file])
    if not others:
        return False
    touched = set().union(*(r.keys for r in results))
    for result in results:
        touched.update(keys_of.get(result.file, ()))
    return not others.isdisjoint(touched)


def default_mapping_path(system: str) -> Path:
    return MAPPINGS_DIR / f"{system}.yml"


def file_drop(system: str) -> Callable[..., DltSource]:
    """The dlt source of file-drop system `system`, configured under [sources.<system>]."""

    @dlt.source(name=system, section=system, max_table_nesting=0)
    def file_drop_source(
        folder: str = dlt.config.value,
        mapping: str | None = None,
        quarantine_folder: str | None = None,
        min_file_age_seconds: float = 0.0,
        reread_all: bool = False,
        ready_marker_suffix: str | None = None,
    ) -> list[DltResource]:
        spec: FileDropMapping = load_mapping(mapping or default_mapping_path(system))
        if spec.system != system:
            raise MappingError(
                f"{spec.origin}: declares system {spec.system!r} but is configured for "
                f"source {system!r}"
            )
        quarantine = Path(quarantine_folder).expanduser() if quarantine_folder else None
        root = Path(folder).expanduser()
        return [
            entity_resource(
                system,
                entity,
                root,
                quarantine,
                min_file_age_seconds,
                reread_all,
                ready_marker_suffix or None,
            )
            for entity in spec.entities
        ]

    return file_drop_source


file_drop_source = file_drop("erp")
"""The ERP's sales-order exports (mapping pipelines/file_drops/erp.yml)."""
