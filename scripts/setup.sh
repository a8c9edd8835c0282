#!/usr/bin/env bash
# Creates .venv and installs the bot from the lock file, exactly the versions the project was tested with.
#   bash scripts/setup.sh         # to run the bot (requirements/main.lock)
#   bash scripts/setup.sh test    # to run the tests: also the test tools and Debian's chromium (requirements/test.lock)
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-main}"
case "$kind" in
    main | test) ;;
    *) echo "usage: bash scripts/setup.sh [main|test]" >&2; exit 2 ;;
esac
if [[ "$kind" == test ]]; then
    bash scripts/install-browser.sh
fi
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check --require-hashes -r "requirements/$kind.lock"
# The build backend comes from the lock too, so the project itself is installed without fetching anything.
.venv/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
