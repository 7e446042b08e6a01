"""OCEL 2.0 (SQLite, JSON) and XES exports of a built two-CRM warehouse, read back by pm4py
(the AGPL test oracle), by rustxes (an independent MIT/Apache reader) and by the standard
library's sqlite3, and compared with the marts they come from."""

from __future__ import annotations

import argparse
import sqlite3
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pm4py
import pytest
import rustxes
from analyst_warehouse import AnalystWarehouse, build_analyst_warehouse
from conftest import query as rows
from pm4py.objects.ocel.importer.jsonocel import importer as jsonocel_importer
from pm4py.objects.ocel.validation import ocel20_rel_validation

from l2c.export import ExportError, ExportScope, export
from l2c.export.__main__ import _instant
from l2c.export.__main__ import main as export_main
from l2c.export.scope import OBJECT_TYPES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> AnalystWarehouse:
    return build_analyst_warehouse(tmp_path_factory)


@pytest.fixture(scope="module")
def files(built: AnalystWarehouse) -> dict[str, Path]:
    return export(built.db, built.work / "exports")


class Expected:
    """The whole log's OCEL content, derived here in Python from the marts' rows: each event
    relates to its own object and to its case's object (deal, or lead of a lead-only case);
    the objects are those plus every object one relation away; o2o are the relations between
    objects of the export."""

    def __init__(self, db: Path) -> None:
        log = rows(db, "select event_id, case_id, object_type, object_id from marts.event_log")
        case_object = {
            case_id: f"deal:{deal}" if kind == "deal" else f"lead:{lead}"
            for case_id, kind, deal, lead in rows(
                db, "select case_id, case_type, deal_key, lead_key from marts.cases"
            )
        }
        relations = rows(
            db,
            "select from_object_type || ':' || from_object_id, "
            "to_object_type || ':' || to_object_id, relation from marts.object_relations",
        )
        self.events = {r[0] for r in log}
        self.e2o = {(e, f"{t}:{o}") for e, _, t, o in log} | {
            (e, case_object[c]) for e, c, _, _ in log
        }
        self.objects_with_events = {o for _, o in self.e2o}
        self.objects = set(self.objects_with_events)
        for source, target, _ in relations:
            if source in self.objects_with_events or target in self.objects_with_events:
                self.objects |= {source, target}
        self.o2o = {r for r in relations if r[0] in self.objects and r[1] in self.objects}


@pytest.fixture(scope="module")
def expected(built: AnalystWarehouse) -> Expected:
    return Expected(built.db)


def sqlite_content(path: Path) -> dict[str, set[Any]]:
    db = sqlite3.connect(path)
    try:
        return {
            "events": {r[0] for r in db.execute("select ocel_id from event")},
            "objects": {r[0] for r in db.execute("select ocel_id from object")},
            "e2o": set(db.execute("select ocel_event_id, ocel_object_id from event_object")),
            "o2o": set(
                db.execute(
                    "select ocel_source_id, ocel_target_id, ocel_qualifier from object_object"
                )
            ),
            "fk_violations": set(db.execute("pragma foreign_key_check")),
        }
    finally:
        db.close()


def test_ocel_sqlite_holds_the_marts_and_passes_pm4py_validation(
    files: dict[str, Path], expected: Expected
) -> None:
    path = files["ocel-sqlite"]
    content = sqlite_content(path)
    assert content["events"] == expected.events
    assert content["objects"] == expected.objects
    assert content["e2o"] == expected.e2o
    assert content["o2o"] == expected.o2o
    assert content["fk_violations"] == set()
    satisfied, unsatisfied = ocel20_rel_validation.apply(str(path))
    assert unsatisfied == [] and len(satisfied) == 24
    ocel = pm4py.read_ocel2_sqlite(str(path))
    assert len(ocel.events) == len(expected.events)
    assert len(ocel.relations) == len(expected.e2o)
    # pm4py's reader keeps only objects that some event relates to (here: not the accounts)
    assert set(ocel.objects["ocel:oid"]) == expected.objects_with_events
    kept = {r for r in expected.o2o if {r[0], r[1]} <= expected.objects_with_events}
    assert len(ocel.o2o) == len(kept)


def test_ocel_json_read_by_pm4py_and_rustxes_equals_the_marts(
    built: AnalystWarehouse, files: dict[str, Path], expected: Expected
) -> None:
    path = str(files["ocel-json"])
    # pm4py's own JSON reader (pm4py.read_ocel2_json hands the file to rustxes when installed)
    ocel = jsonocel_importer.apply(path, variant=jsonocel_importer.Variants.OCEL20_STANDARD)
    assert set(ocel.events["ocel:eid"]) == expected.events
    # like its SQLite reader, it keeps only objects that some event relates to
    assert set(ocel.objects["ocel:oid"]) == expected.objects_with_events
    assert set(zip(ocel.relations["ocel:eid"], ocel.relations["ocel:oid"], strict=True)) == (
        expected.e2o
    )
    kept = {r for r in expected.o2o if {r[0], r[1]} <= expected.objects_with_events}
    assert len(ocel.o2o) == len(kept)

    independent = rustxes.import_ocel_json(path)
    assert independent["events"].height == len(expected.events)
    assert set(independent["objects"]["ocel:oid"].to_list()) == expected.objects
    assert set(independent["objects"]["ocel:type"].to_list()) == set(OBJECT_TYPES)
    assert independent["relations"].height == len(expected.e2o)
    assert independent["o2o"].height == len(expected.o2o)

    # an attribute: each deal object's outcome is its case's outcome
    outcomes = dict(rows(built.db, "select 'deal:' || deal_key, outcome from marts.cases"))
    deals = ocel.objects[ocel.objects["ocel:type"] == "deal"]
    assert dict(zip(deals["ocel:oid"], deals["outcome"], strict=True)) == {
        oid: outcomes[oid] for oid in deals["ocel:oid"]
    }


def test_xes_variants_read_by_pm4py_equal_process_variants(
    built: AnalystWarehouse, files: dict[str, Path]
) -> None:
    # pm4py's own XML parser (by default it hands .xes files to rustxes when installed)
    log = pm4py.read_xes(str(files["xes"]), variant="iterparse")
    variants = {tuple(v): n for v, n in pm4py.get_variants(log).items()}
    marts = {
        tuple(activities): n
        for activities, n in rows(
            built.db, "select activities, cases_count from marts.process_variants"
        )
    }
    assert variants == marts
    assert len(marts) > 20


def test_xes_read_by_rustxes_has_every_event_of_every_case(
    built: AnalystWarehouse, files: dict[str, Path]
) -> None:
    frame, _ = rustxes.import_xes(str(files["xes"]))
    per_case = Counter(frame["case:concept:name"].to_list())
    assert per_case == dict(
        rows(built.db, "select case_id, count(*) from marts.event_log group by case_id")
    )
    resources = Counter(frame["org:resource"].drop_nulls().to_list())
    assert resources == dict(
        rows(
            built.db,
            "select resource, count(*) from marts.event_log where resource is not null group by 1",
        )
    )


def test_the_command_exports_one_system_and_window(
    built: AnalystWarehouse, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    since, until = datetime(2025, 1, 1), datetime(2025, 7, 1)
    code = export_main(
        [
            "--duckdb",
            str(built.db),
            "--format",
            "ocel-sqlite",
            "xes",
            "--system",
            "salesforce",
            "--since",
            "2025-01-01",
            "--until",
            "2025-07-01",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    sqlite_path = tmp_path / "lead2cash-salesforce-20250101_20250701.ocel2.sqlite"
    assert str(sqlite_path) in out
    wanted = rows(
        built.db,
        "select e.event_id from marts.event_log as e join marts.cases as c using (case_id) "
        "where c.source_system = 'salesforce' and e.event_at >= ? and e.event_at < ?",
        [since, until],
    )
    content = sqlite_content(sqlite_path)
    assert content["events"] == {r[0] for r in wanted} and len(wanted) > 50
    assert content["fk_violations"] == set()
    assert ocel20_rel_validation.apply(str(sqlite_path))[1] == []
    frame, _ = rustxes.import_xes(str(tmp_path / "lead2cash-salesforce-20250101_20250701.xes"))
    assert frame.height == len(wanted)
    assert not (tmp_path / "lead2cash-salesforce-20250101_20250701.ocel2.json").exists()


def test_bad_requests_fail_with_a_clear_message(built: AnalystWarehouse, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"source system\(s\) hubspot have no cases"):
        export(built.db, tmp_path, scope=ExportScope(systems=("hubspot",)))
    with pytest.raises(ExportError, match="no event in the export scope"):
        export(built.db, tmp_path, scope=ExportScope(since=datetime(2040, 1, 1)))
    with pytest.raises(ExportError, match="no warehouse at"):
        export(tmp_path / "missing.duckdb", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_window_bounds_are_read_as_utc() -> None:
    assert _instant("2025-01-01") == datetime(2025, 1, 1)
    assert _instant("2025-01-01T02:30+02:00") == datetime(2025, 1, 1, 0, 30)
    with pytest.raises(argparse.ArgumentTypeError, match="'2025-02-30' is not a date"):
        _instant("2025-02-30")


def test_the_exports_know_every_object_type_of_the_event_log() -> None:
    """A new object type in the log (its accepted values) must reach the exports' list, or
    every export stops with 'object types the exports do not know'."""
    import yaml

    from l2c.dbt_runner import ROOT
    from l2c.export.scope import OBJECT_TYPES

    spec = yaml.safe_load((ROOT / "models" / "marts" / "event_log.yml").read_text())
    column = next(c for m in spec["models"] for c in m["columns"] if c["name"] == "object_type")
    accepted = next(t for t in column["data_tests"] if "accepted_values" in t)
    assert set(accepted["accepted_values"]["arguments"]["values"]) <= set(OBJECT_TYPES)
