"""The manifest of source systems: the one place that says which systems the warehouse knows.

Every registry is derived from it: the loader of each system (`pipelines.load`), the raw-data
Great Expectations suites (`l2c.quality`), the dbt registry var `l2c_systems` that drives every
`int_*_unioned` model (`l2c systems --write` writes it into dbt_project.yml, and the jobs
pass it to every dbt run), and the system table of the README.

API systems are declared below. A file-drop system is declared by its mapping file alone
(pipelines/file_drops/<system>.yml): its kind, canonical entities, raw tables, keys, timestamp
and not-null columns come from the mapping, so adding one needs no Python.

    l2c systems                  list the systems
    l2c systems --write      rewrite the l2c_systems var of dbt_project.yml from here
    l2c systems --check          exit 1 when dbt_project.yml or the README disagree with here
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from pipelines.file_drop_mapping import FileDropMapping, load_mapping

FILE_DROPS_DIR = Path(__file__).resolve().parent / "file_drops"
# extra folders of file-drop mappings (os.pathsep-separated), for mappings kept outside the package
FILE_DROPS_ENV = "L2C_FILE_DROP_MAPPINGS"


@dataclass(frozen=True)
class RawTable:
    """A raw table's data checks, declared once: the raw Great Expectations suite is built from
    it. Timestamps are timestamptz columns (checked within 2000-01-01 .. now + 1 day);
    `unix_timestamps` hold seconds since the epoch."""

    name: str
    key: tuple[str, ...]
    timestamps: tuple[str, ...] = ()
    unix_timestamps: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    non_negative: tuple[str, ...] = ()
    accepted_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # column -> SQL type to cast to before checking (e.g. a decimal stored as text)
    casts: Mapping[str, str] = field(default_factory=dict)
    # False: the table may be absent (an account that never used the feature); not checked then
    required: bool = True


@dataclass(frozen=True)
class SourceSystem:
    name: str  # raw_<name> schema, stg_<name>__* models, [sources.<name>] config section
    kind: str  # crm | finance | erp
    title: str
    loader: str  # "module:function" returning the dlt source (imported when loading)
    entities: tuple[str, ...]  # canonical entities its staging models output
    raw_tables: tuple[RawTable, ...] = ()
    docs: str = ""
    file_drop: bool = False

    def source_factory(self) -> Callable[..., Any]:
        module, _, attribute = self.loader.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
        if self.file_drop:
            return factory(self.name)  # type: ignore[no-any-return]
        return factory  # type: ignore[no-any-return]


def _t(name: str, key: str | tuple[str, ...], **checks: Any) -> RawTable:
    keys = (key,) if isinstance(key, str) else key
    return RawTable(
        name, keys, **{k: tuple(v) if isinstance(v, list) else v for k, v in checks.items()}
    )


CRM_ENTITIES = ("users", "teams", "team_members", "leads", "deals", "pipelines", "stages")

API_SYSTEMS: tuple[SourceSystem, ...] = (
    SourceSystem(
        "pipedrive",
        "crm",
        "Pipedrive",
        "pipelines.pipedrive:pipedrive_source",
        (*CRM_ENTITIES, "stage_changes", "quotes", "activities", "deal_lines", "deal_discounts"),
        (
            _t(
                "deals",
                "id",
                timestamps=["add_time", "update_time"],
                not_null=["add_time"],
                non_negative=["value"],
                accepted_values={"status": ("open", "won", "lost", "deleted")},
            ),
            _t("deal_changes", "id", timestamps=["log_time"], not_null=["deal_id"]),
            _t("leads", "id", timestamps=["add_time"]),
        ),
        "",
    ),
    SourceSystem(
        "stripe",
        "finance",
        "Stripe",
        "pipelines.stripe:stripe_source",
        (
            "customers",
            "invoices",
            "payments",
            "subscriptions",
            "invoice_billing",
            "payment_failures",
            "refunds",
            "credit_notes",
        ),
        (
            _t(
                "invoices",
                "id",
                unix_timestamps=["created"],
                not_null=["customer"],
                non_negative=["amount_due", "amount_paid"],
                accepted_values={
                    "status": ("draft", "open", "paid", "void", "uncollectible"),
                },
            ),
            _t("charges", "id", unix_timestamps=["created"], non_negative=["amount"]),
            _t(
                "subscriptions",
                "id",
                unix_timestamps=["created", "start_date"],
                not_null=["customer"],
                accepted_values={
                    "status": (
                        "incomplete",
                        "incomplete_expired",
                        "trialing",
                        "active",
                        "past_due",
                        "canceled",
                        "unpaid",
                        "paused",
                    ),
                },
                required=False,  # Stripe Billing unused: no subscriptions
            ),
            _t(
                "refunds",
                "id",
                unix_timestamps=["created"],
                non_negative=["amount"],
                required=False,
            ),
            _t(
                "credit_notes",
                "id",
                unix_timestamps=["created"],
                not_null=["invoice"],
                non_negative=["amount"],
                accepted_values={"status": ("issued", "void")},
                required=False,
            ),
        ),
        "",
    ),
    SourceSystem(
        "salesforce",
        "crm",
        "Salesforce",
        "pipelines.salesforce:salesforce_source",
        (*CRM_ENTITIES, "stage_changes", "quotes", "activities", "deal_lines", "orders"),
        (
            _t(
                "opportunities",
                "id",
                timestamps=["created_date", "system_modstamp"],
                not_null=["created_date", "stage_name", "is_closed"],
                non_negative=["amount"],
            ),
            _t(
                "opportunity_history",
                "id",
                timestamps=["created_date"],
                not_null=["opportunity_id"],
            ),
            _t("leads", "id", timestamps=["created_date"]),
        ),
        "docs/salesforce.md",
    ),
    SourceSystem(
        "zendesk_sell",
        "crm",
        "Zendesk Sell",
        "pipelines.zendesk_sell:zendesk_sell_source",
        (*CRM_ENTITIES, "stage_changes", "orders", "deal_lines", "deal_discounts"),
        (
            _t(
                "deals",
                "id",
                timestamps=["created_at", "updated_at"],
                not_null=["created_at", "stage_id"],
                non_negative=["value"],
            ),
            _t(
                "deal_stage_snapshots",
                "snapshot_id",
                timestamps=["last_stage_change_at"],
                not_null=["deal_id", "stage_id"],
            ),
            _t("leads", "id", timestamps=["created_at"]),
        ),
        "docs/zendesk-sell-history.md",
    ),
    SourceSystem(
        "oracle_cx",
        "crm",
        "Oracle CX Sales",
        "pipelines.oracle_cx:oracle_cx_source",
        ("users", "leads", "deals", "pipelines", "stages", "stage_changes", "deal_lines"),
        (
            _t(
                "opportunities",
                "opty_id",
                timestamps=["creation_date", "last_update_date"],
                not_null=["creation_date"],
                non_negative=["revenue"],
                accepted_values={"status_code": ("OPEN", "WON", "LOST")},
            ),
            _t(
                "stage_snapshots",
                "opty_stg_snapshot_id",
                timestamps=["stg_enter_date"],
                not_null=["opty_id", "stg_enter_date"],
            ),
            _t("leads", "lead_id", timestamps=["creation_date"]),
        ),
        "docs/oracle-cx.md",
    ),
)


def _file_drop_system(mapping: FileDropMapping) -> SourceSystem:
    tables = tuple(
        RawTable(
            entity.name,
            entity.primary_key,
            timestamps=tuple(c.name for c in entity.columns if c.type in ("timestamp", "date")),
            not_null=tuple(c.name for c in entity.columns if c.not_null),
            non_negative=tuple(c.name for c in entity.columns if c.non_negative),
            casts={c.name: "double" for c in entity.columns if c.type == "decimal"},
        )
        for entity in mapping.entities
    )
    return SourceSystem(
        mapping.system,
        mapping.kind,
        "file drop",
        "pipelines.file_drop:file_drop",
        mapping.warehouse_entities,
        tables,
        "docs/adding-a-source.md",
        file_drop=True,
    )


def mapping_files() -> list[Path]:
    folders = [FILE_DROPS_DIR]
    folders += [Path(p) for p in os.environ.get(FILE_DROPS_ENV, "").split(os.pathsep) if p]
    return sorted(path for folder in folders for path in folder.glob("*.yml"))


@cache
def _systems(mapping_paths: tuple[Path, ...]) -> dict[str, SourceSystem]:
    systems = {s.name: s for s in API_SYSTEMS}
    for path in mapping_paths:
        system = _file_drop_system(load_mapping(path))
        if system.name in systems:
            raise ValueError(f"{path}: system {system.name!r} is declared twice")
        systems[system.name] = system
    return systems


def systems() -> dict[str, SourceSystem]:
    """Every known system by name: the API systems, then the file drops found."""
    return _systems(tuple(mapping_files()))


def system(name: str) -> SourceSystem:
    known = systems()
    if name not in known:
        raise KeyError(f"unknown system {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


def dbt_registry(names: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """The dbt var `l2c_systems`: kind and canonical entities per system."""
    chosen = systems() if names is None else {n: system(n) for n in names}
    return {s.name: {"kind": s.kind, "entities": list(s.entities)} for s in chosen.values()}


# ------------------------------------------------------------------ derived files

_DBT_BLOCK = re.compile(
    r"(  # BEGIN l2c_systems \(generated.*?\n)(.*?)(  # END l2c_systems\n)", re.S
)
_README_BLOCK = re.compile(
    r"(<!-- BEGIN systems table.*?-->\n)(.*?)(<!-- END systems table -->)", re.S
)


def dbt_block() -> str:
    body = yaml.safe_dump(
        {"l2c_systems": dbt_registry()}, sort_keys=False, default_flow_style=None, width=96
    )
    return "".join(f"  {line}\n" for line in body.splitlines())


def readme_table() -> str:
    rows = ["| system | kind | canonical entities | loader, docs |", "| --- | --- | --- | --- |"]
    for s in systems().values():
        where = f"`{s.loader.split(':')[0]}`" + (f", [{s.docs}]({s.docs})" if s.docs else "")
        rows.append(f"| `{s.name}` ({s.title}) | {s.kind} | {', '.join(s.entities)} | {where} |")
    return "\n".join(rows) + "\n"


def _rewrite(path: Path, pattern: re.Pattern[str], body: str) -> tuple[str, str]:
    text = path.read_text()
    match = pattern.search(text)
    if match is None:
        raise ValueError(f"{path}: the generated block's markers are missing")
    return text, text[: match.start(2)] + body + text[match.end(2) :]


def derived_files(root: Path) -> dict[Path, tuple[str, str]]:
    """(current, expected) text of each file generated from the manifest (a project copy
    without the README has only dbt_project.yml)."""
    files = {root / "dbt_project.yml": _rewrite(root / "dbt_project.yml", _DBT_BLOCK, dbt_block())}
    if (root / "README.md").exists():
        files[root / "README.md"] = _rewrite(root / "README.md", _README_BLOCK, readme_table())
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="l2c systems", description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the derived files")
    group.add_argument("--check", action="store_true", help="exit 1 if a derived file is stale")
    args = parser.parse_args(argv)
    if args.write or args.check:
        from l2c.paths import project_dir

        stale = []
        for path, (current, expected) in derived_files(project_dir()).items():
            if current != expected:
                stale.append(path)
                if args.write:
                    path.write_text(expected)
                    print(f"rewrote {path}")
        if args.check and stale:
            names = ", ".join(str(p) for p in stale)
            print(f"out of date with the manifest: {names} (run `l2c systems --write`)")
            return 1
        return 0
    for s in systems().values():
        print(f"{s.name:<14} {s.kind:<8} {s.title:<24} {', '.join(s.entities)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
