"""Augmentation keeps boxes consistent with the pixels and is deterministic for a seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workers.data import augment
from workers.data.loader import DetectionDataset, collate
from workers.data.open import open_dataset
from workers.training.hyp import Hyperparameters


def _scene(size=128, box=(30, 40, 70, 90)):
    image = np.full((size, size, 3), 20, dtype=np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = 250
    return image, np.array([[0, x1, y1, x2, y2]], dtype=np.float64)


def _bright_extent(image):
    rows, cols = np.nonzero(image[..., 0] > 200)
    return cols.min(), rows.min(), cols.max() + 1, rows.max() + 1


@pytest.mark.parametrize("seed", range(8))
def test_perspective_moves_boxes_with_the_pixels(seed):
    image, labels = _scene()
    rng = np.random.default_rng(seed)
    warped, moved = augment.random_perspective(image, labels, rng, translate=0.2, scale=0.4)
    assert len(moved) == 1
    x1, y1, x2, y2 = _bright_extent(warped)
    np.testing.assert_allclose(moved[0, 1:], [x1, y1, x2, y2], atol=2.0)


@pytest.mark.parametrize("seed", range(4))
def test_rotated_boxes_still_contain_their_pixels(seed):
    image, labels = _scene()
    warped, moved = augment.random_perspective(
        image,
        labels,
        np.random.default_rng(seed),
        degrees=30,
        shear=5,
        translate=0.1,
        scale=0.2,
        perspective=0.0005,
    )
    x1, y1, x2, y2 = _bright_extent(warped)
    box = moved[0, 1:]
    assert box[0] <= x1 + 1.5 and box[1] <= y1 + 1.5 and box[2] >= x2 - 1.5 and box[3] >= y2 - 1.5


def test_flips_and_letterbox():
    image, labels = _scene()
    flipped, moved = augment.flip(image, labels, horizontal=True)
    assert tuple(moved[0, 1:]) == _bright_extent(flipped)
    flipped, moved = augment.flip(image, labels, horizontal=False)
    assert tuple(moved[0, 1:]) == _bright_extent(flipped)
    wide = np.zeros((50, 100, 3), dtype=np.uint8)
    boxed, ratio, (left, top) = augment.letterbox(wide, 64)
    assert boxed.shape == (64, 64, 3) and ratio == pytest.approx(0.64) and (left, top) == (0.0, 16.0)
    assert (boxed[:16] == augment.FILL).all()


def test_mosaic_keeps_each_tiles_boxes_on_its_pixels():
    tiles = [_scene(64, box=(10 + 5 * k, 12, 40 + 5 * k, 50)) for k in range(4)]
    canvas, labels = augment.mosaic(tiles, 64, np.random.default_rng(3))
    assert canvas.shape == (128, 128, 3) and len(labels) == 4
    for _, x1, y1, x2, y2 in labels:
        if x2 - x1 > 2 and y2 - y1 > 2:
            patch = canvas[int(y1) : int(y2), int(x1) : int(x2), 0]
            assert (patch > 200).mean() > 0.95


def test_hsv_and_mixup_change_pixels_not_labels():
    image, labels = _scene()
    shifted = augment.augment_hsv(image, 0.015, 0.7, 0.4, np.random.default_rng(0))
    assert shifted.shape == image.shape and not np.array_equal(shifted, image)
    blended, merged = augment.mixup((image, labels), (255 - image, labels), np.random.default_rng(0))
    assert len(merged) == 2 and 20 < blended.mean() < 250


def test_dataset_samples_are_deterministic_and_boxes_valid(synth_dataset):
    dataset = open_dataset(synth_dataset)
    hyp = Hyperparameters(mosaic=0.5, mixup=0.3, degrees=5)
    first = DetectionDataset(dataset.train, 96, hyp, augment=True, seed=5)
    second = DetectionDataset(dataset.train, 96, hyp, augment=True, seed=5)
    for index in range(6):
        image_a, targets_a, _ = first[index]
        image_b, targets_b, _ = second[index]
        assert torch.equal(image_a, image_b) and torch.equal(targets_a, targets_b)
        assert image_a.shape == (3, 96, 96) and image_a.min() >= 0 and image_a.max() <= 1
        if len(targets_a):
            assert ((targets_a[:, 2:] >= 0) & (targets_a[:, 2:] <= 1)).all()
    first.set_epoch(1)
    assert not torch.equal(first[0][0], second[0][0])  # a new epoch draws new augmentations


def test_validation_samples_map_back_to_the_original_image(synth_dataset, tmp_path):
    dataset = open_dataset(synth_dataset)
    validation = DetectionDataset(dataset.val, 96, cache_dir=tmp_path / "cache")
    images, targets, metas = collate([validation[0], validation[1]])
    assert images.shape == (2, 3, 96, 96) and set(targets[:, 0].tolist()) <= {0.0, 1.0}
    record = dataset.val.records[0]
    assert metas[0].original_size == (record.height, record.width) and metas[0].ratio == pytest.approx(
        96 / 128
    )
    rows = targets[targets[:, 0] == 0]
    x1 = (rows[:, 2] - rows[:, 4] / 2) * 96
    np.testing.assert_allclose(
        sorted((x1.numpy() - metas[0].padding[0]) / metas[0].ratio), sorted(record.boxes[:, 0]), atol=0.01
    )
    assert list((tmp_path / "cache").glob("*.npy"))  # resized images cached on disk
    again = DetectionDataset(dataset.val, 96, cache_dir=tmp_path / "cache")
    assert torch.equal(again[0][0], validation[0][0])
