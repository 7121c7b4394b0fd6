#!/usr/bin/env bash
# Quick start 1: install, then run the main job on embedded defaults.
# Today the main job profiles the whole Scaled-YOLOv4 family generated from the compound-scaling
# rules (and P7's once-for-all sub-networks): parameters, conv GFLOPs, strides, activation memory.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/scaler model family
.venv/bin/scaler model show yolov4-p5
