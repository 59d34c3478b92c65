#!/usr/bin/env bash
# Quickstart, step 1: set up .venv, create HOME with the demo practice, and serve the web chat and Slack
# endpoint on http://127.0.0.1:8000 (pass --host/--port to change).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
.venv/bin/billing-assistant init --demo
exec .venv/bin/billing-assistant serve "$@"
