"""The built-in synthetic dataset: deterministic, varied, labels consistent with the pixels."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from workers.data.synth import SynthConfig, render_scene, write_synth_dataset


def _digest(root):
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    config = SynthConfig(images=4, val_images=2, size=64, classes=3, seed=11)
    write_synth_dataset(tmp_path / "a", config)
    write_synth_dataset(tmp_path / "b", config)
    write_synth_dataset(tmp_path / "c", SynthConfig(images=4, val_images=2, size=64, classes=3, seed=12))
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")


def test_annotations_are_varied_and_inside_the_images(synth_dataset):
    document = json.loads((synth_dataset / "annotations" / "instances_train.json").read_text())
    assert len(document["images"]) == 24 and [c["name"] for c in document["categories"]] == [
        "circle",
        "square",
        "triangle",
    ]
    boxes = np.array([a["bbox"] for a in document["annotations"]], dtype=float)
    assert (boxes[:, 2:] > 0).all()
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= 128).all()
    assert (boxes[:, 1] >= 0).all() and (boxes[:, 1] + boxes[:, 3] <= 128).all()
    sides = boxes[:, 2:].max(axis=1)
    assert sides.min() <= 8 and sides.max() >= 40  # from a few pixels to a large part of the image
    assert {a["category_id"] for a in document["annotations"]} == {1, 2, 3}
    per_image = np.bincount([a["image_id"] for a in document["annotations"]])
    assert per_image.max() >= 4


def test_boxes_are_the_tight_boxes_of_visible_object_pixels():
    config = SynthConfig(size=96, classes=8, max_objects=8)
    occluded = 0
    for index in range(12):
        pixels, objects = render_scene(np.random.default_rng([3, index]), config)
        assert pixels.shape == (96, 96, 3) and pixels.dtype == np.uint8
        covered = np.zeros((96, 96), dtype=int)
        for item in objects:
            rows, cols = np.nonzero(item.visible)
            x, y, w, h = item.box
            assert (x, y, x + w, y + h) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
            covered += item.visible
        assert covered.max() <= 1  # visible parts never overlap: occluded parts are not labelled
        occluded += sum(item.visible.sum() < item.full_area for item in objects)
        assert all(item.visible.sum() >= 0.4 * item.full_area for item in objects)
    assert occluded > 0  # overlaps happen, and partly hidden objects keep only their visible box


def test_invalid_configurations_are_rejected():
    with pytest.raises(ValueError, match="classes"):
        SynthConfig(classes=9)
    with pytest.raises(ValueError, match="size"):
        SynthConfig(size=8)
