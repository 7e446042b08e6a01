"""The file-drop source (ERP sales-order exports): the declared mapping, the simulator's export,
loading good and bad files, idempotent and incremental re-runs, Parquet, and the orders end to
end in the event log."""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import only_systems, query, serving, vars_of

from l2c.dbt_runner import EVENT_LOG_BUILD, run_dbt
from l2c_demo.simulator import DemoCompany, SimConfig
from l2c_demo.simulator.crms import CRMS
from l2c_demo.simulator.render_erp import HEADERS, write_erp_export
from pipelines import file_drop
from pipelines.file_drop_mapping import (
    MappingError,
    convert,
    load_mapping,
    parse_mapping,
)
from pipelines.load import SOURCES, LoadError, load_all, load_system

# the company's systems only: no other system's empty staging models and tests
dbt_systems = only_systems("pipedrive", "oracle_cx", "stripe", "erp")

ERP_MAPPING = Path(__file__).resolve().parent.parent / "pipelines" / "file_drops" / "erp.yml"


# ---------------------------------------------------------------- helpers


@pytest.fixture
def company() -> DemoCompany:
    return DemoCompany(
        SimConfig(seed=5, n_deals=240, crms=("pipedrive", "oracle_cx"), crm_weights=(0.6, 0.4))
    )


@pytest.fixture
def drop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    monkeypatch.setenv("SOURCES__ERP__FOLDER", str(folder))
    return folder


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the source parses, in order (hashing an unchanged file is not reading it)."""
    seen: list[str] = []
    original = file_drop.FileReader.read

    def spy(self: file_drop.FileReader, file: str, fmt: str, data: bytes) -> Any:
        seen.append(file)
        return original(self, file, fmt, data)

    monkeypatch.setattr(file_drop.FileReader, "read", spy)
    return seen


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text("utf-8-sig"), newline=""), delimiter=";"))


def write_csv(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))


def visible_orders(company: DemoCompany, systems: tuple[str, ...]) -> list[Any]:
    return [o for o in company.orders if o.crm in systems and o.visible(company.as_of_unix)]


def raw_orders(db: Path) -> dict[str, tuple[Any, ...]]:
    rows = query(
        db,
        "select order_no, epoch(order_date)::bigint, epoch(fulfilment_date)::bigint, crm, "
        "crm_opportunity_id, net_amount, currency, status, _source_file, _source_row "
        "from raw_erp.orders",
    )
    return {r[0]: r[1:] for r in rows}


def rejects(db: Path) -> list[dict[str, Any]]:
    cols = ["source_file", "source_row", "column_name", "reason", "record_id", "duplicate_of"]
    present = {r[0] for r in query(db, "describe raw_erp.rejects")}
    select = ", ".join(c if c in present else f"null as {c}" for c in cols)
    rows = query(db, f"select {select} from raw_erp.rejects order by source_file, source_row")
    return [dict(zip(cols, r, strict=True)) for r in rows]


def assert_orders_match(db: Path, company: DemoCompany, systems: tuple[str, ...]) -> None:
    loaded = raw_orders(db)
    expected = visible_orders(company, systems)
    assert len(loaded) == len(expected)
    count, distinct = query(db, "select count(*), count(distinct order_no) from raw_erp.orders")[0]
    assert count == distinct == len(expected)
    for order in expected:
        row = loaded[f"SO{order.number:07d}"]
        assert row[0] == order.created
        assert row[1] == order.fulfilled_at(company.as_of_unix)
        assert row[2] == order.crm.upper()
        assert row[3] == CRMS[order.crm].deal_ref(order.deal_id)
        assert row[4] == Decimal(order.amount_cents).scaleb(-2)
        assert row[5] == order.currency.upper()
        assert row[6] == ("Open" if row[1] is None else "Fulfilled")


# ---------------------------------------------------------------- the mapping


def test_the_shipped_mapping_is_valid() -> None:
    mapping = load_mapping(ERP_MAPPING)
    assert mapping.system == "erp"
    (orders,) = mapping.entities
    assert orders.name == "orders" and orders.primary_key == ("order_no",)
    assert {c.header for c in orders.columns if c.required} <= set(HEADERS)
    assert mapping.observes == ("Sales Order Created", "Order Fulfilled")
    assert mapping.links_to == ("pipedrive", "oracle_cx")


def test_mapping_validation_names_every_problem() -> None:
    raw = yaml.safe_load(ERP_MAPPING.read_text())
    orders = raw["entities"]["orders"]
    orders["files"].append({"glob": "../secret/*.csv", "format": "xlsx"})
    orders["csv"]["delimiter"] = ";;"
    orders["time_zone"] = "Mars/Olympus"
    orders["primary_key"] = ["order_number"]
    orders["columns"]["Order Date"]["type"] = "datetime"
    orders["columns"]["Changed On"]["formats"] = ["%d.%m.%Q"]
    orders["columns"]["Customer"]["name"] = "order_no"
    orders["columns"]["Status"]["nullable"] = True
    orders["columns"]["Net Amount"]["non_negative"] = True  # a raw check: a dbt source test
    raw["observes"] = {"Sales Order Created": True}
    raw["kind"] = "crm"  # a CRM's cases are its own: links_to is refused
    with pytest.raises(MappingError) as info:
        parse_mapping(raw, "erp.yml")
    message = str(info.value)
    for expected in (
        "erp.yml: invalid file-drop mapping",
        "entities.orders.files[2].glob: '../secret/*.csv' must be relative",
        "entities.orders.files[2].format: expected one of csv, parquet, got 'xlsx'",
        "entities.orders.csv.delimiter: expected one character",
        "entities.orders.time_zone: unknown time zone 'Mars/Olympus'",
        "entities.orders.primary_key: 'order_number' is not a declared raw column name",
        "columns['Order Date'].type: unknown type 'datetime'",
        "columns['Changed On'].formats: format '%d.%m.%Q'",
        "raw column name 'order_no' is used twice",
        "columns['Status']: unknown key 'nullable'",
        "columns['Net Amount'].non_negative: raw-data checks are dbt source tests now",
        "observes: expected a string or a list of strings",
        "links_to: a crm system's cases are its own",
    ):
        assert expected in message, f"{expected!r} not in:\n{message}"


def test_mapping_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="mapping file not found"):
        load_mapping(tmp_path / "nope.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("system: erp\nentities: [unclosed\n")
    with pytest.raises(MappingError, match=r"broken.yml: not valid YAML"):
        load_mapping(broken)
    other = tmp_path / "other.yml"
    other.write_text(ERP_MAPPING.read_text().replace("system: erp", "system: netsuite"))
    with pytest.raises(MappingError, match=r"declares system 'netsuite'.*source 'erp'"):
        file_drop.file_drop_source(folder=str(tmp_path), mapping=str(other))


@pytest.mark.parametrize(
    ("header", "text", "expected"),
    [
        ("Net Amount", "18250,00", Decimal("18250")),
        ("Net Amount", "18.250,50", Decimal("18250.5")),
        ("Net Amount", "1.234,50-", Decimal("-1234.5")),
        (
            "Order Date",
            "14.01.2025 09:32:00 +01:00",
            datetime(2025, 1, 14, 8, 32, tzinfo=timezone.utc),
        ),
        (
            "Order Date",
            "14.07.2025 09:32:00 +0200",
            datetime(2025, 7, 14, 7, 32, tzinfo=timezone.utc),
        ),
        # no offset: the mapping's time zone (Europe/Berlin, summer time)
        ("Order Date", "14.07.2025 09:32:00", datetime(2025, 7, 14, 7, 32, tzinfo=timezone.utc)),
        ("Fulfilment Date", "  ", None),
        ("CRM Opportunity", 300001000000042.0, "300001000000042"),
    ],
)
def test_values_convert_by_the_declared_types(header: str, text: Any, expected: Any) -> None:
    (orders,) = load_mapping(ERP_MAPPING).entities
    column = orders.by_header()[header.casefold()]
    assert convert(text, column, orders) == expected


@pytest.mark.parametrize(
    ("header", "text", "reason"),
    [
        ("Net Amount", "12,34,56", "not a number"),
        ("Net Amount", "18250.00", "not a number"),  # a decimal point where a comma is declared
        ("Order Date", "31.02.2025 10:00:00 +01:00", "does not match the timestamp format"),
        ("Order Date", "2025-01-14T09:32:00Z", "does not match the timestamp format"),
        ("Order Date", "", "a value is required"),
    ],
)
def test_bad_values_say_why(header: str, text: str, reason: str) -> None:
    (orders,) = load_mapping(ERP_MAPPING).entities
    with pytest.raises(ValueError, match=reason):
        convert(text, orders.by_header()[header.casefold()], orders)


# ---------------------------------------------------------------- the simulator's export


def test_export_writes_one_realistic_file_per_month(company: DemoCompany, tmp_path: Path) -> None:
    paths = write_erp_export(company, tmp_path, parquet_months={"2025-06"})
    orders = visible_orders(company, ("pipedrive", "oracle_cx"))
    assert {o.crm for o in orders} == {"pipedrive", "oracle_cx"}
    assert [p.name for p in paths] == sorted(p.name for p in tmp_path.iterdir())
    assert tmp_path.joinpath("sales_orders_2025-06.parquet") in paths
    names = [p.name for p in paths]
    assert all(re.fullmatch(r"sales_orders_\d{4}-\d{2}\.(csv|parquet)", n) for n in names)
    rows = [row for p in paths if p.suffix == ".csv" for row in read_csv(p)[1:]]
    assert read_csv(paths[0])[0] == list(HEADERS)
    assert paths[0].read_bytes().startswith(b"\xef\xbb\xbf")  # BOM, like the ERP writes
    by_no = {row[0]: row for row in rows}
    for order in orders:
        row = by_no.get(f"SO{order.number:07d}")
        if row is None:  # in the Parquet month
            continue
        assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2} \+0[12]:00", row[1])
        assert datetime.strptime(row[1], "%d.%m.%Y %H:%M:%S %z").timestamp() == order.created
        assert row[4] == order.crm.upper()
        assert row[6] == CRMS[order.crm].deal_ref(order.deal_id)
        assert row[8] == f"{order.amount_cents // 100},{order.amount_cents % 100:02d}"
        month = datetime.strptime(row[1], "%d.%m.%Y %H:%M:%S %z").strftime("%Y-%m")
        assert row in read_csv(tmp_path / f"sales_orders_{month}.csv")[1:]
    only_pd = write_erp_export(company, tmp_path / "pd", systems=("pipedrive",))
    pd_rows = [row for p in only_pd for row in read_csv(p)[1:]]
    assert {row[4] for row in pd_rows} == {"PIPEDRIVE"}
    assert len(pd_rows) == len(visible_orders(company, ("pipedrive",)))


def test_re_export_changes_past_months_only_by_fulfilment(
    company: DemoCompany, tmp_path: Path
) -> None:
    first = {p.name: read_csv(p) for p in write_erp_export(company, tmp_path)}
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    company.advance(days=40)
    second = {p.name: read_csv(p) for p in write_erp_export(company, tmp_path)}
    assert set(first) <= set(second)
    fulfilment_cols = [HEADERS.index(h) for h in ("Status", "Fulfilment Date", "Changed On")]
    changed = 0
    for name, old in first.items():
        new = second[name]
        if new == old:
            assert tmp_path.joinpath(name).stat().st_mtime_ns == mtimes[name]  # not rewritten
            continue
        changed += 1
        for old_row, new_row in zip(old[1:], new[1:], strict=False):
            same = [i for i in range(len(HEADERS)) if i not in fulfilment_cols]
            assert [old_row[i] for i in same] == [new_row[i] for i in same]
            if old_row[HEADERS.index("Fulfilment Date")]:
                assert old_row == new_row
        assert len(new) >= len(old)  # only the current month grows
    assert changed >= 1


# ---------------------------------------------------------------- loading


def test_good_files_load_with_types_and_utc(
    company: DemoCompany, drop: Path, duckdb_path: Path
) -> None:
    write_erp_export(company, drop)
    result = load_system("erp", duckdb_path)
    expected = visible_orders(company, ("pipedrive", "oracle_cx"))
    assert result.rows_by_table["orders"] == len(expected) and result.rejects == 0
    assert_orders_match(duckdb_path, company, ("pipedrive", "oracle_cx"))
    types = dict(
        query(
            duckdb_path,
            "select column_name, data_type from "
            "information_schema.columns where table_schema = 'raw_erp' "
            "and table_name = 'orders'",
        )
    )
    assert types["order_date"] == "TIMESTAMP WITH TIME ZONE"
    assert types["fulfilment_date"] == "TIMESTAMP WITH TIME ZONE"
    assert types["net_amount"].startswith("DECIMAL")
    assert types["_source_row"] == "BIGINT"
    # _source_file/_source_row point at the line of the file the row came from
    no, file, row = query(
        duckdb_path, "select order_no, _source_file, _source_row from raw_erp.orders limit 1"
    )[0]
    assert read_csv(drop / file)[row][0] == no
    files = query(
        duckdb_path, "select count(*), min(status), max(status) from raw_erp.source_files"
    )[0]
    assert files == (len(list(drop.iterdir())), "loaded", "loaded")


def test_parquet_files_load_like_csv(company: DemoCompany, drop: Path, duckdb_path: Path) -> None:
    paths = write_erp_export(company, drop, default_format="parquet")
    assert {p.suffix for p in paths} == {".parquet"}
    months = [p.stem.removeprefix("sales_orders_") for p in paths]
    write_erp_export(company, drop, parquet_months=months[::2])  # mixed: every other month
    assert {p.suffix for p in drop.iterdir()} == {".csv", ".parquet"}
    load_system("erp", duckdb_path)
    assert_orders_match(duckdb_path, company, ("pipedrive", "oracle_cx"))
    formats = dict(
        query(duckdb_path, "select format, count(*) from raw_erp.source_files group by 1")
    )
    assert formats == {"csv": len(months) - len(months[::2]), "parquet": len(months[::2])}


def test_a_file_with_wrong_columns_is_rejected_whole_while_the_others_load(
    company: DemoCompany,
    drop: Path,
    duckdb_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    quarantine = tmp_path / "quarantine"
    monkeypatch.setenv("SOURCES__ERP__QUARANTINE_FOLDER", str(quarantine))
    paths = write_erp_export(company, drop)
    bad = paths[3]
    rows = read_csv(bad)
    kept = [i for i, h in enumerate(rows[0]) if h != "Currency"]
    renamed = [["Amount" if c == "Net Amount" else c for c in rows[0]], *rows[1:]]
    write_csv(bad, [[r[i] for i in kept] for r in renamed])
    with caplog.at_level(logging.WARNING, logger="pipelines.file_drop"):
        result = load_system("erp", duckdb_path)
    assert result.rejects == 1
    (reject,) = rejects(duckdb_path)
    assert reject["source_file"] == bad.name and reject["source_row"] is None
    assert "missing required column(s) 'Net Amount', 'Currency'" in reject["reason"]
    assert "'Amount'" in reject["reason"]  # the file's actual columns are listed
    loaded = raw_orders(duckdb_path)
    assert not {r[7] for r in loaded.values()} & {bad.name}
    assert len(loaded) == len(visible_orders(company, ("pipedrive", "oracle_cx"))) - (len(rows) - 1)
    status = query(
        duckdb_path, "select status, error from raw_erp.source_files where file = ?", [bad.name]
    )
    assert status[0][0] == "rejected" and "Net Amount" in status[0][1]
    assert quarantine.joinpath(bad.name).read_bytes() == bad.read_bytes()
    assert bad.name in caplog.text and "'Net Amount', 'Currency'" in caplog.text
    assert "REJECTED 1 file(s) and 0 row(s)" in caplog.text

    # the rejected file is not read again until it changes; fixed, it loads
    assert load_system("erp", duckdb_path).rows == 0
    write_erp_export(company, drop)
    load_system("erp", duckdb_path)
    assert_orders_match(duckdb_path, company, ("pipedrive", "oracle_cx"))


def test_unreadable_files_are_rejected_whole(
    company: DemoCompany, drop: Path, duckdb_path: Path
) -> None:
    paths = write_erp_export(company, drop, parquet_months={"2025-01"})
    parquet = drop / "sales_orders_2025-01.parquet"
    assert parquet in paths
    parquet.write_bytes(parquet.read_bytes()[: len(parquet.read_bytes()) // 2])  # truncated
    latin1 = paths[0]
    latin1.write_bytes(
        latin1.read_bytes().replace(b"Order No", "Auftragsnr. \xfc".encode("cp1252"))
    )
    comma = drop / "sales_orders_2099-01.csv"
    comma.write_text("Order No,Order Date,Net Amount\nSO1,01.01.2099 10:00:00 +01:00,1\n")
    load_system("erp", duckdb_path)
    reasons = {r["source_file"]: r["reason"] for r in rejects(duckdb_path)}
    assert set(reasons) == {parquet.name, latin1.name, comma.name}
    assert "not a readable Parquet file" in reasons[parquet.name]
    assert "not utf-8-sig text" in reasons[latin1.name]
    assert "is not split by the delimiter ';'" in reasons[comma.name]
    loaded_files = {r[7] for r in raw_orders(duckdb_path).values()}
    assert loaded_files == {p.name for p in paths} - {parquet.name, latin1.name}


def test_files_younger_than_the_minimum_age_wait_for_the_next_run(
    company: DemoCompany, drop: Path, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = write_erp_export(company, drop)
    monkeypatch.setenv("SOURCES__ERP__MIN_FILE_AGE_SECONDS", "3600")
    for path in paths[:-1]:
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime - 7200))
    load_system("erp", duckdb_path)
    assert paths[-1].name not in {r[7] for r in raw_orders(duckdb_path).values()}
    os.utime(paths[-1], (paths[-1].stat().st_atime, paths[-1].stat().st_mtime - 7200))
    load_system("erp", duckdb_path)
    assert_orders_match(duckdb_path, company, ("pipedrive", "oracle_cx"))


def test_unparseable_values_go_to_rejects_with_file_row_and_column(
    company: DemoCompany, drop: Path, duckdb_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = write_erp_export(company, drop)
    target = max(paths, key=lambda p: len(read_csv(p)))
    rows = read_csv(target)
    assert len(rows) >= 4
    date_col, amount_col = HEADERS.index("Order Date"), HEADERS.index("Net Amount")
    rows[2][date_col] = "31.02.2025 10:00:00 +01:00"
    rows[3][amount_col] = "12,34,56"
    rows[3][date_col] = "yesterday"
    write_csv(target, rows)
    with caplog.at_level(logging.WARNING, logger="pipelines.file_drop"):
        result = load_system("erp", duckdb_path)
    assert result.rejects == 2
    first, second = rejects(duckdb_path)
    assert (first["source_file"], first["source_row"], first["column_name"]) == (
        target.name,
        2,
        "Order Date",
    )
    assert "'31.02.2025 10:00:00 +01:00' does not match the timestamp format" in first["reason"]
    assert first["record_id"] == rows[2][0]
    assert (second["source_row"], second["column_name"]) == (3, "Order Date, Net Amount")
    assert "'12,34,56' is not a number" in second["reason"] and "'yesterday'" in second["reason"]
    loaded = raw_orders(duckdb_path)
    assert rows[2][0] not in loaded and rows[3][0] not in loaded
    assert sum(1 for r in loaded.values() if r[7] == target.name) == len(rows) - 3
    assert f"{target.name} row 2 (line 3), column 'Order Date'" in caplog.text
    status = query(
        duckdb_path,
        "select status, rows_rejected from raw_erp.source_files where file = ?",
        [target.name],
    )
    assert status == [("loaded_with_rejects", 2)]


def test_duplicate_ids_are_rejected_naming_the_first_occurrence(
    company: DemoCompany, drop: Path, duckdb_path: Path
) -> None:
    paths = write_erp_export(company, drop)
    first_file, other = paths[0], paths[-1]
    first_rows, other_rows = read_csv(first_file), read_csv(other)
    other_rows.append(first_rows[1])  # across files: an order of the first file again
    other_rows.append(other_rows[1])  # within the file
    write_csv(other, other_rows)
    result = load_system("erp", duckdb_path)
    assert result.rejects == 2
    across, within = rejects(duckdb_path)
    n = len(other_rows) - 1
    assert (across["source_file"], across["source_row"]) == (other.name, n - 1)
    assert across["column_name"] == "Order No"
    assert across["duplicate_of"] == f"{first_file.name} row 1 (line 2)"
    assert (
        f"duplicate 'Order No' '{first_rows[1][0]}': first seen in {first_file.name} row 1"
        in (across["reason"])
    )
    assert (within["source_row"], within["duplicate_of"]) == (n, f"{other.name} row 1 (line 2)")
    assert_orders_match(duckdb_path, company, ("pipedrive", "oracle_cx"))  # nothing duplicated
    origin = query(
        duckdb_path,
        "select _source_file, _source_row from raw_erp.orders where order_no = ?",
        [first_rows[1][0]],
    )
    assert origin == [(first_file.name, 1)]


def _rejected_rows(db: Path) -> set[tuple[Any, ...]]:
    return {(r["source_file"], r["source_row"], r["record_id"]) for r in rejects(db)}


@pytest.mark.parametrize("name", ["sales_orders_2099-01.csv", "sales_orders_2000-01.csv"])
def test_a_key_in_a_file_dropped_later_gives_what_a_first_run_gives(
    name: str, company: DemoCompany, drop: Path, duckdb_path: Path, tmp_path: Path
) -> None:
    """The first file in name order keeps a key, the same row in another file is a reject,
    whichever file arrived first and whichever run read it."""
    paths = write_erp_export(company, drop)
    load_system("erp", duckdb_path)
    original = read_csv(paths[0])[1]
    changed = [*original]
    changed[HEADERS.index("Net Amount")] = "99999,99"
    write_csv(drop / name, [list(HEADERS), changed])
    load_system("erp", duckdb_path)

    later_file = name > paths[0].name
    kept, rejected = (paths[0].name, name) if later_file else (name, paths[0].name)
    kept_amount = (original if later_file else changed)[HEADERS.index("Net Amount")]
    stored = query(
        duckdb_path,
        "select net_amount, _source_file from raw_erp.orders where order_no = ?",
        [original[0]],
    )
    assert stored == [(Decimal(kept_amount.replace(",", ".")), kept)]
    assert (rejected, 1, original[0]) in _rejected_rows(duckdb_path)

    fresh = tmp_path / "fresh" / "l2c.duckdb"
    load_system("erp", fresh)  # a first run over the same files
    assert raw_orders(duckdb_path) == raw_orders(fresh)
    assert _rejected_rows(duckdb_path) == _rejected_rows(fresh)


def test_a_file_waits_for_its_ready_marker(
    company: DemoCompany, drop: Path, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A half-written file (cut before its last optional value) is not read until the
    exporter says it is complete."""
    paths = write_erp_export(company, drop)
    monkeypatch.setenv("SOURCES__ERP__READY_MARKER_SUFFIX", ".done")
    for path in paths[:-1]:
        path.with_name(path.name + ".done").touch()
    last = paths[-1]
    complete = last.read_bytes()
    last.write_bytes(complete[: complete.rstrip().rfind(b";") + 1])  # cut mid-row
    load_system("erp", duckdb_path)
    assert last.name not in {r[7] for r in raw_orders(duckdb_path).values()}
    last.write_bytes(complete)
    last.with_name(last.name + ".done").touch()
    load_system("erp", duckdb_path)
    assert_orders_match(duckdb_path, company, ("pipedrive", "oracle_cx"))


def test_a_re_run_reads_and_loads_nothing(
    company: DemoCompany,
    drop: Path,
    duckdb_path: Path,
    reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = write_erp_export(company, drop)
    load_system("erp", duckdb_path)
    assert reads == [p.name for p in paths]
    before = query(
        duckdb_path,
        "select * exclude (_dlt_load_id, _dlt_id) from raw_erp.source_files order by file",
    )
    reads.clear()
    write_erp_export(company, drop)  # the same export again
    result = load_system("erp", duckdb_path)
    assert reads == [] and result.rows == 0
    assert_orders_match(duckdb_path, company, ("pipedrive", "oracle_cx"))
    after = query(
        duckdb_path,
        "select * exclude (_dlt_load_id, _dlt_id) from raw_erp.source_files order by file",
    )
    assert after == before

    # a forced full re-read reads every file again and still duplicates nothing
    monkeypatch.setenv("SOURCES__ERP__REREAD_ALL", "true")
    reads.clear()
    load_system("erp", duckdb_path)
    assert reads == [p.name for p in paths]
    assert_orders_match(duckdb_path, company, ("pipedrive", "oracle_cx"))


def test_a_new_months_file_is_picked_up_and_only_it_is_read(
    company: DemoCompany, drop: Path, duckdb_path: Path, reads: list[str]
) -> None:
    paths = write_erp_export(company, drop)
    newest = paths[-1]
    kept = newest.read_bytes()
    newest.unlink()
    load_system("erp", duckdb_path)
    assert newest.name not in reads
    reads.clear()
    newest.write_bytes(kept)
    result = load_system("erp", duckdb_path)
    assert reads == [newest.name]
    assert result.rows_by_table["orders"] == len(read_csv(newest)) - 1
    assert_orders_match(duckdb_path, company, ("pipedrive", "oracle_cx"))


def test_a_changed_file_re_merges_without_duplicates(
    company: DemoCompany, drop: Path, duckdb_path: Path, reads: list[str]
) -> None:
    before = {p.name: p.read_bytes() for p in write_erp_export(company, drop)}
    load_system("erp", duckdb_path)
    open_before = query(duckdb_path, "select count(*) from raw_erp.orders where status = 'Open'")
    company.advance(days=45)
    after = {p.name: p.read_bytes() for p in write_erp_export(company, drop)}
    changed = sorted(name for name, data in after.items() if before.get(name) != data)
    assert changed and len(changed) < len(after)
    reads.clear()
    load_system("erp", duckdb_path)
    assert reads == changed  # unchanged past months are not read again
    assert_orders_match(duckdb_path, company, ("pipedrive", "oracle_cx"))  # updated in place
    assert open_before[0][0] > 0


def test_missing_or_wrong_folder_fails_clearly(
    duckdb_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCES__ERP__FOLDER", raising=False)
    with pytest.raises(
        LoadError, match=r"erp: missing configuration: folder.*SOURCES__ERP__FOLDER"
    ):
        load_system("erp", duckdb_path)
    monkeypatch.setenv("SOURCES__ERP__FOLDER", str(tmp_path / "not-there"))
    with pytest.raises(LoadError, match=r"drop folder .*not-there does not exist"):
        load_system("erp", duckdb_path)


def test_an_unknown_column_loads_as_text(
    company: DemoCompany, drop: Path, duckdb_path: Path
) -> None:
    paths = write_erp_export(company, drop)
    rows = read_csv(paths[0])
    write_csv(paths[0], [[*rows[0], "Incoterms 2020"]] + [[*r, "DAP"] for r in rows[1:]])
    load_system("erp", duckdb_path)
    assert query(
        duckdb_path,
        "select distinct incoterms_2020 from raw_erp.orders where incoterms_2020 is not null",
    ) == [("DAP",)]
    assert_orders_match(duckdb_path, company, ("pipedrive", "oracle_cx"))


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoCompany, Path]]:
    work = tmp_path_factory.mktemp("erp_e2e")
    # Oracle CX is another business unit's CRM; while its source is not registered the demo
    # company sells with Pipedrive only.
    crms = ("pipedrive", "oracle_cx") if "oracle_cx" in SOURCES else ("pipedrive",)
    weights = (0.6, 0.4) if len(crms) == 2 else (1.0,)
    company = DemoCompany(SimConfig(seed=13, n_deals=300, crms=crms, crm_weights=weights))
    paths = write_erp_export(company, work / "drop", parquet_months={"2025-06", "2025-07"})
    rows = read_csv(paths[0])  # an ERP export column the staging model does not know
    write_csv(paths[0], [[*rows[0], "Incoterms"]] + [[*r, "DAP"] for r in rows[1:]])
    db = work / "l2c.duckdb"
    with serving(company, SOURCES__ERP__FOLDER=str(work / "drop")):
        load_all(db, [*crms, "stripe", "erp"])
    run_dbt(
        ["build", *EVENT_LOG_BUILD, *vars_of(company)], db, target_path=work / "target", quiet=True
    )
    yield company, db


@pytest.mark.slow
def test_order_events_are_exactly_the_truths_orders(built: tuple[DemoCompany, Path]) -> None:
    company, db = built
    truth = company.ground_truth()
    assert truth["orders"], "the demo company has orders"
    expected = set()
    for order in truth["orders"]:
        expected.add((order["deal_case_id"], "Sales Order Created", order["created"]))
        if order["fulfilled"] is not None:
            expected.add((order["deal_case_id"], "Order Fulfilled", order["fulfilled"]))
    logged = query(
        db,
        "select case_id, activity, epoch(event_at)::bigint, source_system, object_id "
        "from marts.event_log where activity in ('Sales Order Created', 'Order Fulfilled')",
    )
    assert len(logged) == len(expected)
    assert {(c, a, t) for c, a, t, _s, _o in logged} == expected
    assert {s for *_x, s, _o in logged} == {"erp"}
    assert all(o.startswith("erp:SO") for *_x, o in logged)


@pytest.mark.slow
def test_object_relations_link_each_deal_to_its_erp_order(
    built: tuple[DemoCompany, Path],
) -> None:
    company, db = built
    truth = company.ground_truth()
    expected = {(o["deal_case_id"], f"erp:SO{o['number']:07d}") for o in truth["orders"]}
    relations = query(
        db,
        "select from_object_id, to_object_id, source_system from marts.object_relations "
        "where relation = 'ordered_as'",
    )
    assert {(f, t) for f, t, _s in relations} == expected
    assert {s for *_x, s in relations} == {"erp"}
    staged = query(
        db, "select count(*), count(fulfilled_at), min(source_system) from staging.stg_erp__orders"
    )
    assert staged == [
        (len(truth["orders"]), sum(1 for o in truth["orders"] if o["fulfilled"]), "erp")
    ]
