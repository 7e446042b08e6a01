"""dbt parses the project once per warehouse file name and vars in a test session (README,
'Keeping the suite short'): a warehouse in another folder starts from the cached parse; another
file name (another catalog in the manifest) is parsed anew."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from l2c.dbt_runner import PARSE_CACHE_ENV, run_dbt

pytestmark = pytest.mark.slow


def _parse(db: Path, vars_: list[str]) -> tuple[int, set[str]]:
    """(files dbt parsed, the databases the manifest's models name) of `dbt parse` on `db`."""
    db.parent.mkdir(parents=True)
    target = db.parent / "target"
    run_dbt(["parse", *vars_], db, target_path=target, quiet=True)
    parsed = json.loads((target / "perf_info.json").read_text())["parsed_path_count"]
    nodes = json.loads((target / "manifest.json").read_text())["nodes"].values()
    return parsed, {n["database"] for n in nodes if n["resource_type"] == "model"}


def test_a_warehouse_in_another_folder_reuses_the_parse_and_another_name_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PARSE_CACHE_ENV, str(tmp_path / "cache"))
    vars_ = ["--vars", json.dumps({"as_of": "2026-01-31 00:00:00"})]
    first = _parse(tmp_path / "first" / "l2c.duckdb", vars_)
    second = _parse(tmp_path / "second" / "l2c.duckdb", vars_)
    other = _parse(tmp_path / "third" / "other.duckdb", vars_)
    assert first[0] > 0 and first[1] == {"l2c"}
    assert second == (0, {"l2c"})  # nothing parsed: the first folder's parse, from the cache
    assert other[0] > 0 and other[1] == {"other"}
    assert len(list((tmp_path / "cache").glob("*.msgpack"))) == 2
