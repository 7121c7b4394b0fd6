"""Datasets: the built-in synthetic dataset, COCO JSON and YOLO txt layouts, validation."""
