"""The HTML report of a built two-CRM warehouse, written as `make demo` writes it, opened in
headless Chromium: no console error, a screenshot, and the numbers a person reads on the page
(per source system and per pipeline, picked with the page's own picker) equal the marts."""

from __future__ import annotations

import json
import struct
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from analyst_warehouse import AnalystWarehouse, build_analyst_warehouse
from browser import Page, open_page
from conftest import query as rows

from l2c.report import ReportError, write_report
from l2c.report.outputs import write_run_outputs
from l2c.report.process_map import format_wait

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> AnalystWarehouse:
    return build_analyst_warehouse(tmp_path_factory)


@pytest.fixture(scope="module")
def report(built: AnalystWarehouse) -> Path:
    # what the refresh (and the demo) writes, given the build's dbt target
    outputs = write_run_outputs(built.db, dbt_target=built.target)
    assert outputs.report == built.db.parent / "report.html"
    assert sorted(p.name for p in outputs.exports.values()) == sorted(
        ["lead2cash.ocel2.sqlite", "lead2cash.ocel2.json", "lead2cash.xes"]
    )
    return outputs.report


def pick(page: Page, selector: str, value: str) -> None:
    """Choose an option of a <select> as a person does: set it, fire its change event."""
    page.evaluate(
        f"(() => {{ const s = document.querySelector({json.dumps(selector)}); "
        f"s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change')); }})()"
    )


VISIBLE_VIEW = "div.view:not([hidden])"


def visible_kpis(page: Page) -> dict[str, str]:
    return dict(
        page.evaluate(
            f"[...document.querySelectorAll('{VISIBLE_VIEW} .kpi')]"
            ".map(k => [k.dataset.kpi, k.querySelector('.value').innerText])"
        )
    )


def visible_edges(page: Page) -> list[dict[str, str]]:
    """Every activity-to-activity edge of the map on screen: its ends and its label text."""
    return list(
        page.evaluate(
            f"[...document.querySelectorAll('{VISIBLE_VIEW} div.map:not([hidden]) "
            "g[data-kind=flow]')].map(g => ({source: g.dataset.source, target: g.dataset.target,"
            " count: g.dataset.count, label: g.querySelector('text').textContent}))"
        )
    )


def directly_follows(db: Path, system: str, pipeline: str | None) -> dict[tuple[str, str], int]:
    """Transition counts of the system's cases in the pipeline (None: cases with no pipeline),
    from marts.event_log: each event paired with the next one of its case."""
    return {
        (a, b): n
        for a, b, n in rows(
            db,
            """
            with numbered as (
                select e.case_id, e.activity,
                    row_number() over (
                        partition by e.case_id order by e.event_at, e.event_order
                    ) as n
                from marts.event_log as e
                inner join marts.cases as c on e.case_id = c.case_id
                where c.source_system = ? and c.pipeline is not distinct from ?
            )
            select a.activity, b.activity, count(*)
            from numbered as a
            inner join numbered as b on a.case_id = b.case_id and b.n = a.n + 1
            group by 1, 2
            """,
            [system, pipeline],
        )
    }


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_the_report_in_chromium_shows_the_marts(
    built: AnalystWarehouse, report: Path, tmp_path: Path
) -> None:
    db = built.db
    systems = [r[0] for r in rows(db, "select distinct source_system from marts.cases")]
    assert sorted(systems) == ["pipedrive", "salesforce"]
    dso = rows(
        db,
        "select dso from marts.receivables_monthly where dimension = 'company' "
        "and dso is not null order by period_month desc limit 1",
    )[0][0]
    with open_page(report.resolve().as_uri()) as page:
        width, height = png_size(page.screenshot(tmp_path / "report.png"))
        assert width >= 1000 and height > 2000
        assert page.evaluate("document.querySelectorAll('div.view:not([hidden])').length") == 1
        for system in ["all", *systems]:
            pick(page, "#system-picker", system)
            shown = page.evaluate(f"document.querySelector('{VISIBLE_VIEW}').dataset.key")
            assert shown == system
            where, params = ("true", []) if system == "all" else ("source_system = ?", [system])
            cases = rows(db, f"select count(*) from marts.cases where {where}", params)[0][0]
            if system == "all":
                win_rate = rows(
                    db, "select win_rate from marts.win_rates where dimension = 'overall'"
                )[0][0]
                segment = ("all", "all")
            else:
                win_rate = rows(
                    db,
                    "select win_rate from marts.win_rates "
                    "where dimension = 'source_system' and group_value = ?",
                    [system],
                )[0][0]
                segment = ("source_system", system)
            kpis = visible_kpis(page)
            assert kpis["cases"] == f"{cases:,}"
            assert kpis["win_rate"] == f"{win_rate:.1%}"
            assert kpis["dso"] == f"{dso:.1f} days"
            # the steps the system cannot observe are named, not counted as deviations
            (steps,) = rows(
                db,
                "select unobservable_steps from marts.conformance_summary "
                "where dimension = ? and dimension_value = ?",
                list(segment),
            )[0]
            note = page.evaluate(
                f"document.querySelector('{VISIBLE_VIEW} [data-note=unobservable]')?.innerText"
                " ?? null"
            )
            if steps is None:
                # Salesforce observes every step of its paths (Quote Created included): no note
                assert system == "salesforce" and note is None
            else:
                where = "some source systems" if system == "all" else system
                assert note.startswith(f"Not observable in {where} (") and f"): {steps}." in note
                assert "Quote Accepted" in steps

            edges = rows(
                db,
                "select from_activity, to_activity, transitions_count, wait_median_s "
                "from marts.process_map_edges where segment_type = ? and segment_value = ?",
                list(segment),
            )
            pick(page, f"{VISIBLE_VIEW} select.map-level", "100%")
            pick(page, f"{VISIBLE_VIEW} select.map-view", "frequency")
            on_page = visible_edges(page)
            assert {
                (e["source"], e["target"]): int(e["label"].replace(",", "")) for e in on_page
            } == {(a, b): n for a, b, n, _ in edges}
            assert all(e["label"].replace(",", "") == e["count"] for e in on_page)
            pick(page, f"{VISIBLE_VIEW} select.map-view", "performance")
            waits = {(e["source"], e["target"]): e["label"] for e in visible_edges(page)}
            assert waits == {(a, b): format_wait(w) for a, b, _, w in edges}
            # the top variants covering half the cases: fewer edges, none of them new
            pick(page, f"{VISIBLE_VIEW} select.map-level", "50%")
            pick(page, f"{VISIBLE_VIEW} select.map-view", "frequency")
            narrowed = {(e["source"], e["target"]) for e in visible_edges(page)}
            assert narrowed and narrowed < {(a, b) for a, b, _, _ in edges}
        # each pipeline of each system: its cases, win rate and process map
        pipelines = rows(
            db,
            "select distinct source_system, pipeline from marts.cases "
            "where pipeline is not null order by 1, 2",
        )
        assert {s for s, _ in pipelines} == set(systems)
        assert ("pipedrive", "New Business") in pipelines
        pipeline_edges: dict[str, Counter[tuple[str, str]]] = {s: Counter() for s in systems}
        for system, pipeline in pipelines:
            pick(page, "#system-picker", f"{system} / {pipeline}")
            shown = page.evaluate(
                f"(() => {{ const v = document.querySelector('{VISIBLE_VIEW}'); "
                "return [v.dataset.system, v.dataset.pipeline, v.innerText]; })()"
            )
            assert shown[:2] == [system, pipeline]
            assert "per source system only" in shown[2]
            cases = rows(
                db,
                "select count(*) from marts.cases where source_system = ? and pipeline = ?",
                [system, pipeline],
            )[0][0]
            win_rate = rows(
                db,
                "select win_rate from marts.pipeline_velocity "
                "where source_system = ? and pipeline = ?",
                [system, pipeline],
            )[0][0]
            kpis = visible_kpis(page)
            assert kpis["cases"] == f"{cases:,}"
            assert kpis["win_rate"] == f"{win_rate:.1%}"
            pick(page, f"{VISIBLE_VIEW} select.map-level", "100%")
            pick(page, f"{VISIBLE_VIEW} select.map-view", "frequency")
            on_page = {
                (e["source"], e["target"]): int(e["label"].replace(",", ""))
                for e in visible_edges(page)
            }
            assert on_page == directly_follows(db, system, pipeline)
            pipeline_edges[system].update(on_page)
        # a system's pipelines (and its cases without one, the leads) make up its map
        for system in systems:
            marts_edges = rows(
                db,
                "select from_activity, to_activity, transitions_count "
                "from marts.process_map_edges "
                "where segment_type = 'source_system' and segment_value = ?",
                [system],
            )
            leads = directly_follows(db, system, None)
            assert pipeline_edges[system] + Counter(leads) == {(a, b): n for a, b, n in marts_edges}
        quality = page.evaluate(
            "[...document.querySelectorAll('table[data-table=expectations] tr')].slice(1)"
            ".map(r => [r.cells[0].innerText, r.cells[1].innerText])"
        )
        raw_checks = page.evaluate(
            "[...document.querySelectorAll('table[data-table=raw-checks] tr')].slice(1)"
            ".map(r => [r.cells[0].innerText, r.cells[1].innerText])"
        )
        dbt_tests = page.evaluate("document.querySelector('[data-table=dbt-tests]').innerText")
        rejects = page.evaluate("document.querySelector('[data-table=rejects]').innerText")
        assert page.errors == []
    # every suite of the run is listed, each with all its expectations met; the raw tables'
    # checks are the build's dbt tests on the sources, listed per raw table
    names = {name for name, _ in quality}
    assert names == {"marts.event_log", "marts.invoices (link to a CRM deal)"}
    assert all(a == b for _, met in quality for a, b in [met.split("/")])
    assert {"raw_pipedrive.deals", "raw_salesforce.opportunities"} <= {n for n, _ in raw_checks}
    assert all(a == b != "0" for _, met in raw_checks for a, b in [met.split("/")]), raw_checks
    results = json.loads((built.target / "run_results.json").read_text())["results"]
    tests = [r for r in results if r["unique_id"].startswith(("test.", "unit_test."))]
    assert dbt_tests == f"{len(tests)} pass"
    assert rejects == "No rows were rejected."


def test_report_on_an_unbuilt_warehouse_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no warehouse at"):
        write_report(tmp_path / "none.duckdb", tmp_path / "r.html")
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    with pytest.raises(ReportError, match=r"marts cases, event_log.* missing"):
        write_report(db, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()
