"""The jobs' command lines and log lines: `--help` on every entry point, leveled UTC log lines,
JSON lines with a flag."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from l2c import log
from l2c.dbt_runner import ROOT


@pytest.mark.parametrize(
    ("module", "says"),
    [
        ("l2c.refresh", ["--selector", "--postgres", "--wait", "--log-json", "75 another job"]),
        ("l2c_demo.job", ["BI file:", "--serve-dir", "--wait"]),
        ("pipelines.load", ["--systems"]),
    ],
)
def test_every_entry_point_has_help(module: str, says: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    for text in says:
        assert text in " ".join(done.stdout.split()), (module, text)


def test_log_lines_are_timestamped_leveled_and_json_with_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log.setup_logging(as_json=False)
    log.get("dbt").warning("dbt warning: %s", "test.l2c.x")
    logging.getLogger("pipelines.load").warning("completing an interrupted load")
    log.setup_logging(as_json=True)
    log.get("publish").info("published %d marts", 3)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("WARNING dbt       dbt warning: test.l2c.x")
    assert lines[0][:24].endswith("Z") and lines[0][10] == "T"
    assert " WARNING load      completing an interrupted load" in lines[1]
    entry = json.loads(lines[2])
    assert entry["level"] == "INFO" and entry["step"] == "publish"
    assert entry["msg"] == "published 3 marts" and entry["ts"].endswith("Z")
    log.setup_logging()  # plain lines again for the tests that follow
