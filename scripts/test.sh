#!/usr/bin/env bash
# Quick start 2: install with the test tools, lint, and run the whole test suite (2 workers).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test bash scripts/install.sh
bash scripts/install_system.sh  # Chromium (dashboard tests) and docker-compose (compose file check)
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# loadgroup: the multi-process system tests (xdist_group "system") share one worker, one at a time
.venv/bin/python -m pytest -n 2 --dist loadgroup --durations=15 "$@"
