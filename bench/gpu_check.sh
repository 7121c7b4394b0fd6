#!/usr/bin/env bash
# Issue 25 item 3 on a lent GPU machine, in one device call (docs/benchmarks.md, "GPU"):
#   run(command="bash bench/gpu_check.sh", carry=[".whl"], timeout_s=560)
# Installs the wheels carried in .whl/ (bench/gpu_check.py's docstring lists them and how to
# download them), prints nvidia-smi, and runs bench/gpu_check.py (8 minutes of work by default;
# extra arguments are passed on). Everything lands in $OUT: gpu-check.jsonl (the rows, written as
# they are measured), gpu-check.log (the whole output) and nvidia-smi.txt.
set -o pipefail
cd "$(dirname "$0")/.." || exit 1
OUT="${OUT:-runs/gpu-check}"
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" # the checkout is not installed there
nvidia-smi 2>&1 | tee "$OUT/nvidia-smi.txt"
PYTHONUNBUFFERED=1 python3 bench/gpu_check.py --out "$OUT/gpu-check.jsonl" "$@" 2>&1 | tee "$OUT/gpu-check.log"
