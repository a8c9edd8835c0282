"""Keeps the gettext catalogs in step with the code: extract, update, fill English, compile, check.

python scripts/catalogs.py update   # after changing strings: refresh messages.pot and both .po files
python scripts/catalogs.py compile  # after translating: write the .mo files
python scripts/catalogs.py check    # list what is missing or stale (the test suite runs the same check)
python scripts/catalogs.py set zh_Hans FILE.json  # write translations {msgid: msgstr} into a catalog
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.platform.catalogs import check_catalogs, compile_catalogs, set_translations, update_catalogs  # noqa: E402


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update_catalogs(ROOT)
        compile_catalogs(ROOT)
    elif command == "set" and len(argv) == 3:
        translations = json.loads(Path(argv[2]).read_text(encoding="utf-8"))
        for msgid in set_translations(ROOT, argv[1], translations):
            print(f"not in the catalog (run update first): {msgid!r}")
        compile_catalogs(ROOT)
    elif command == "compile":
        compile_catalogs(ROOT)
    elif command != "check":
        print(__doc__)
        return 2
    problems = check_catalogs(ROOT)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
