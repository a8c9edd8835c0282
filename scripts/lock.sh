#!/usr/bin/env bash
# Refreshes requirements/main.lock and requirements/test.lock from pyproject.toml with uv: exact versions and the
# hashes of every file PyPI has for them, for any platform. Extra arguments go to uv (e.g. --upgrade-package babel).
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${TMPDIR:-/tmp}/city-service-bot-uv"
if [[ ! -x "$tools/bin/uv" ]]; then
    python3 -m venv "$tools"
    "$tools/bin/pip" install -q --disable-pip-version-check "uv>=0.9"
fi
compile() {
    "$tools/bin/uv" pip compile pyproject.toml requirements/build.in "$@" \
        --generate-hashes --universal --python-version 3.11 --quiet \
        --custom-compile-command "bash scripts/lock.sh"
}
compile -o requirements/main.lock "${@}"
compile --extra test -o requirements/test.lock "${@}"
