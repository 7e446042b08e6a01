"""The `l2c` command: one entry point for the warehouse's jobs.

    l2c refresh   load every configured system, check, build, check (the scheduled job)
    l2c load      only the dlt loads
    l2c dbt ARGS  dbt with this project, its profile and the systems' registry
    l2c systems   the source systems this installation knows (the manifest)

Other packages add commands through the `l2c.commands` entry point group (the demo harness adds
`l2c demo`); `l2c --help` lists what is installed.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

Main = Callable[[Sequence[str] | None], int]

# name -> ("module:function", one-line help); imported only when the command runs
COMMANDS: dict[str, tuple[str, str]] = {
    "refresh": ("l2c.refresh:main", "the scheduled job: load, check, build, check"),
    "load": ("pipelines.load:main", "load the configured systems into DuckDB with dlt"),
    "dbt": ("l2c.dbt_runner:main", "run dbt on this project (e.g. `l2c dbt build`)"),
    "systems": ("pipelines.manifest:main", "list the source systems (the manifest)"),
    "report": ("l2c.report.__main__:main", "write the HTML report of a built warehouse"),
    "export": ("l2c.export.__main__:main", "write the event log as OCEL 2.0 and XES files"),
}


def _plugins() -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for entry in entry_points(group="l2c.commands"):
        found.setdefault(
            entry.name, (entry.value, f"(from {entry.dist.name if entry.dist else '?'})")
        )
    return found


def _load(target: str) -> Main:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


def usage(commands: dict[str, tuple[str, str]]) -> str:
    width = max(len(name) for name in commands)
    lines = ["usage: l2c COMMAND [options]   (l2c COMMAND --help for its options)", ""]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in sorted(commands.items())]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {**_plugins(), **COMMANDS}
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage(commands))
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in commands:
        print(f"l2c: unknown command {name!r}\n\n{usage(commands)}", file=sys.stderr)
        return 2
    sys.argv[0] = f"l2c {name}"  # the command's --help names itself as the user typed it
    return _load(commands[name][0])(rest)


if __name__ == "__main__":
    raise SystemExit(main())
