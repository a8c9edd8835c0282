"""The plumbing shared by the ``import|export FILE`` commands of ``python -m bot`` (``spots``, ``grids``).

Each command opens the database, imports or exports one GeoJSON file, prints a one-line summary, and exits 0;
a file it refuses is reported problem by problem on stderr with exit code 2, and nothing is changed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.platform.db import Database


class ImportFailed(Exception):
    """The file cannot be imported; ``problems`` names every bad row and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s): " + "; ".join(problems[:3]))
        self.problems = problems


def add_import_export(commands: Any, name: str, *, about: str, import_help: str, export_help: str) -> None:
    """Adds the ``NAME import FILE`` and ``NAME export FILE`` sub-commands; the choice lands in ``args.action``."""
    parser = commands.add_parser(name, help=about)
    actions = parser.add_subparsers(dest="action", required=True)
    importing = actions.add_parser("import", help=import_help)
    importing.add_argument("file", type=Path)
    exporting = actions.add_parser("export", help=export_help)
    exporting.add_argument("file", type=Path)


def run_import_export(
    database: str | Path,
    args: argparse.Namespace,
    *,
    import_file: Callable[[Database, Path], Awaitable[object]],
    export_all: Callable[[Database], Awaitable[dict[str, Any]]],
    exported: str,
) -> int:
    """Runs ``import|export FILE`` against ``database`` (a SQLite file or a PostgreSQL URL); 0 on success, 2 when
    the file is bad (every problem printed).

    ``exported`` names what the exported features are, for the summary ("12 grids").
    """

    async def main() -> int:
        db = await Database.open(database)
        try:
            if args.action == "import":
                summary = await import_file(db, args.file)
                print(f"imported {args.file}: {summary}")
            else:
                data = await export_all(db)
                args.file.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
                print(f"exported {len(data['features'])} {exported} to {args.file}")
            return 0
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except ImportFailed as exc:
        print(f"error: {args.file} was not imported; nothing was changed:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
