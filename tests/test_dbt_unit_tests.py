"""The project's dbt unit tests run once per test session, in the build of `demo_warehouse`
(every other dbt command of the tests leaves them out: `dbt_unit_tests_once` in conftest.py):
each unit test of every model that build built ran there and passed."""

from __future__ import annotations

import json

from tests.conftest import DemoWarehouse


def test_every_unit_test_of_the_built_models_ran_and_passed(
    demo_warehouse: DemoWarehouse,
) -> None:
    manifest = json.loads((demo_warehouse.target / "manifest.json").read_text())
    results = json.loads((demo_warehouse.target / "run_results.json").read_text())["results"]
    built = {r["unique_id"] for r in results if r["unique_id"].startswith("model.")}
    expected = {
        uid
        for uid, node in manifest["unit_tests"].items()
        if set(node["depends_on"]["nodes"]) & built
    }
    ran = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}
    assert expected, "the demo build built no model that has a unit test"
    assert ran == dict.fromkeys(expected, "pass")
