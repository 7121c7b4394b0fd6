#!/usr/bin/env bash
# Quick start 1: install, then run the main job on embedded defaults: `scaler demo` starts the
# Scaler service (REST API + job scheduler, SQLite database, local MLflow store), writes the
# built-in dataset, submits the tiny-cpu-inherit scaling job over REST — compound-scaled P5
# candidates trained, evaluated (COCO AP) and timed (CPU latency) as Ray Tune trials on a local Ray,
# evolved with weight inheritance (each child fine-tunes its parent) — watches it to the end, prints
# the Pareto front of AP vs latency and exports the best network (model.yaml, weights, ONNX).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
rm -rf runs/demo
.venv/bin/scaler demo --data-dir runs/demo
