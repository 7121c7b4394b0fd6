"""The sizes of a dataset's boxes as a network of a given input size sees them (each image
letterboxed to that size): what anchors are fitted to (``workers.anchors``) and what the job page
draws a trial's anchors over (``GET /v1/jobs/{id}/boxes``). numpy only: cheap for the service."""

from __future__ import annotations

import numpy as np

from workers.data.dataset import DatasetSplit


def label_sizes(split: DatasetSplit, img_size: int) -> np.ndarray:
    """(n, 2) label widths and heights in pixels once each image is letterboxed to ``img_size``."""
    sizes = []
    for record in split.records:
        if len(record.boxes) == 0:
            continue
        scale = img_size / max(record.width, record.height)
        wh = (record.boxes[:, 2:4] - record.boxes[:, 0:2]) * scale
        sizes.append(wh)
    return np.concatenate(sizes).astype(np.float64) if sizes else np.zeros((0, 2))


def label_size_sample(
    split: DatasetSplit, img_size: int, limit: int, seed: int = 0
) -> tuple[np.ndarray, int]:
    """At most ``limit`` of ``label_sizes`` (every one when there are no more; else a seeded
    uniform sample without replacement, in the dataset's order) and how many there are in all."""
    sizes = label_sizes(split, img_size)
    if len(sizes) <= limit:
        return sizes, len(sizes)
    chosen = np.sort(np.random.default_rng(seed).choice(len(sizes), limit, replace=False))
    return sizes[chosen], len(sizes)
