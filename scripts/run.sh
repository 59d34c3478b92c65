#!/usr/bin/env bash
# Quickstart, step 1: set up .venv, create HOME with the demo practice, and serve the web chat and Slack
# endpoint on http://127.0.0.1:8000 (pass --host/--port to change).
# The search vectors (knowledge passages, code descriptions: minutes on a fresh HOME) are built by `serve`
# in the background, so the chat answers within about two minutes; the page shows a banner until they
# are ready, and a stopped build continues where it stopped on the next start.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
.venv/bin/billing-assistant init --demo --vectors background
exec .venv/bin/billing-assistant serve "$@"
