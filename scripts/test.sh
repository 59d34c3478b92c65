#!/usr/bin/env bash
# Quickstart, step 2: install what the tests need, then lint, type-check and run every test.
# Extra arguments go to pytest (e.g. `./scripts/test.sh -k claims`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/system-deps.sh
./scripts/bootstrap.sh --test
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy
echo "== pytest"
pytest "$@"
