"""Where the dbt project and the default warehouse live.

From a source checkout (or an editable install) the dbt project is the checkout itself; an
installed wheel carries a copy of it inside the package (l2c/dbt_project). `L2C_PROJECT_DIR`
points the jobs at another copy (e.g. a company's fork of the models).
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def project_dir() -> Path:
    """The dbt project the jobs build: $L2C_PROJECT_DIR, the checkout, or the bundled copy."""
    configured = os.environ.get("L2C_PROJECT_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    checkout = _PACKAGE.parent
    if (checkout / "dbt_project.yml").is_file():
        return checkout
    return _PACKAGE / "dbt_project"


def is_checkout(project: Path) -> bool:
    """Whether `project` is a writable source checkout (dbt may write target/ and logs/ in it)."""
    return project == _PACKAGE.parent and os.access(project, os.W_OK)


def default_duckdb_path() -> Path:
    """The working warehouse file: $L2C_DUCKDB_PATH, else warehouse/lead2cash.duckdb."""
    return Path(os.environ.get("L2C_DUCKDB_PATH", "warehouse/lead2cash.duckdb"))
