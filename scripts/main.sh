#!/usr/bin/env bash
# Quick start 1: install, then run the main job on embedded defaults: the built-in synthetic
# dataset, one trial of a scaled YOLOv4-P5 (train, COCO AP on held-out images, CPU latency), and
# the profile of the whole Scaled-YOLOv4 family generated from the compound-scaling rules.
# (The search over many candidates and the REST service come with the next milestones.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/scaler data synth --out runs/synth --images 200 --val-images 50 --size 256 --classes 3 --seed 0
.venv/bin/scaler train --model yolov4-p5 --depth-multiple 0.33 --width-multiple 0.25 --data runs/synth \
  --img 256 --epochs 5 --batch 16 --out runs/train
.venv/bin/scaler model family
