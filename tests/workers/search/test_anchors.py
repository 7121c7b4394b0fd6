"""AutoAnchor: recall of anchors on labels, and fitting raises it where the defaults miss."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scaler.anchors import default_anchors
from workers.anchors import best_possible_recall, evolve_anchors, label_sizes
from workers.data.dataset import DatasetSplit, ImageRecord


def _elongated_split(count: int = 60) -> DatasetSplit:
    """Very wide, flat boxes (poles lying down): far from the released square-ish anchors."""
    rng = np.random.default_rng(0)
    records = []
    for index in range(count):
        boxes = []
        for _ in range(3):
            width, height = rng.uniform(150, 250), rng.uniform(3, 6)
            x, y = rng.uniform(0, 640 - width), rng.uniform(0, 640 - height)
            boxes.append([x, y, x + width, y + height])
        records.append(ImageRecord.from_lists(index, Path(f"{index}.png"), 640, 640, boxes, [0, 0, 0]))
    return DatasetSplit("train", tuple(records))


def test_recall_is_the_share_of_labels_within_the_ratio_threshold():
    sizes = np.array([[10.0, 10.0], [100.0, 100.0]])
    anchors = np.array([[12.0, 12.0]])
    assert best_possible_recall(sizes, anchors, anchor_t=4.0) == 0.5


def test_fitting_raises_recall_where_the_default_anchors_miss():
    split = _elongated_split()
    anchors = default_anchors((3, 4, 5), 4)
    fit = evolve_anchors(split, 640, anchors, anchor_t=4.0, generations=300)
    assert fit.bpr_before < 0.5
    assert fit.changed and fit.bpr_after > 0.95
    assert len(fit.anchors) == 3 and all(len(level) == 8 for level in fit.anchors)
    flat = np.asarray(fit.anchors).reshape(-1, 2)
    assert np.all(np.diff(flat.prod(1)) >= 0)  # smallest area first, as the strides grow
    assert fit == evolve_anchors(split, 640, anchors, anchor_t=4.0, generations=300)  # seeded


def test_anchors_that_already_fit_are_kept(synth_dataset):
    from workers.data.open import open_dataset

    split = open_dataset(synth_dataset).train
    assert len(label_sizes(split, 128)) == split.num_objects
    wide = ((2.0, 2.0, 6.0, 6.0, 16.0, 16.0, 48.0, 48.0),)
    fit = evolve_anchors(split, 128, wide, anchor_t=8.0)
    assert fit.bpr_before >= 0.98 and not fit.changed and fit.anchors == wide
