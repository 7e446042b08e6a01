"""The jobs' log lines: a UTC timestamp, a level, the step and the message; plain text by default,
one JSON object per line with `--log-json` (for log shippers)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

LOGGER = "l2c"


class _Formatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, timezone.utc)
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
        step = getattr(record, "step", "") or record.name.removeprefix(f"{LOGGER}.")
        step = "load" if step.startswith("pipelines") else step
        message = record.getMessage()
        if self.as_json:
            entry = {"ts": stamp, "level": record.levelname, "step": step, "msg": message}
            entry.update(getattr(record, "fields", {}))
            return json.dumps(entry, default=str)
        return f"{stamp} {record.levelname:<7} {step:<9} {message}"


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the sys.stdout of the moment (a test or a caller may have replaced it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def setup_logging(as_json: bool = False, level: int = logging.INFO) -> logging.Logger:
    """Log lines of the `l2c` loggers to stdout (one stream, so dbt's lines and the job's stay
    in order)."""
    handler = _StdoutHandler(sys.stdout)
    handler.setFormatter(_Formatter(as_json))
    # the loaders' own warnings (pipelines.*) go to the same lines
    for name in (LOGGER, "pipelines"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return logging.getLogger(LOGGER)


def get(step: str) -> logging.Logger:
    """The logger of one step of a job (`load`, `dbt`, `publish`, ...)."""
    return logging.getLogger(f"{LOGGER}.{step}")
