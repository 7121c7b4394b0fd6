#!/usr/bin/env bash
# Creates .venv (if missing) and installs Scaler into it. EXTRAS=test adds the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# CPU build of torch from the machine's local wheel; a GPU machine can pre-install its own torch.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -e ".${EXTRAS:+[$EXTRAS]}"
