"""pycocotools metrics on hand-made cases with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from workers.data.dataset import Dataset, DatasetSplit, ImageRecord
from workers.data.open import open_dataset
from workers.evaluation.coco_eval import evaluate, ground_truth


def _dataset(records):
    split = DatasetSplit("val", tuple(records))
    return Dataset(Path("."), "yolo", ("a", "b"), (1, 2), split, split)


def _record(image_id, boxes, classes):
    return ImageRecord(
        image_id,
        Path(f"{image_id}.png"),
        640,
        640,
        np.asarray(boxes, np.float32),
        np.asarray(classes, np.int64),
    )


GT = [
    _record(1, [[100, 100, 300, 300], [400, 400, 450, 470]], [0, 1]),
    _record(2, [[10, 20, 210, 220]], [1]),
]


def _as_detections(records, score=0.9):
    return {
        r.image_id: torch.tensor(
            [[*box, score, c] for box, c in zip(r.boxes.tolist(), r.classes.tolist(), strict=True)]
        )
        for r in records
    }


def test_perfect_predictions_score_one():
    dataset = _dataset(GT)
    metrics = evaluate(ground_truth(dataset, dataset.val), _as_detections(GT), dataset.category_ids)
    assert (
        metrics.ap == pytest.approx(1.0)
        and metrics.ap50 == pytest.approx(1.0)
        and metrics.ap75 == pytest.approx(1.0)
    )
    assert metrics.ap_small == -1.0  # no small objects: undefined, as COCO reports it
    assert metrics.ap_large == pytest.approx(1.0) and metrics.ap_medium == pytest.approx(1.0)


def test_half_the_objects_found_gives_the_101_point_answer():
    dataset = _dataset([_record(1, [[100, 100, 300, 300], [400, 100, 600, 300]], [0, 0])])
    detections = {1: torch.tensor([[100.0, 100.0, 300.0, 300.0, 0.9, 0.0]])}
    metrics = evaluate(ground_truth(dataset, dataset.val), detections, dataset.category_ids)
    assert metrics.ap == pytest.approx(51 / 101, abs=1e-6)  # precision 1 up to recall 0.5 of 101 points


def test_a_loose_box_counts_only_at_low_iou_thresholds():
    dataset = _dataset([_record(1, [[100, 100, 300, 300]], [0])])
    detections = {1: torch.tensor([[100.0, 100.0, 300.0, 424.0, 0.9, 0.0]])}  # IoU 200·200 / 200·324 ≈ 0.617
    metrics = evaluate(ground_truth(dataset, dataset.val), detections, dataset.category_ids)
    assert metrics.ap50 == pytest.approx(1.0) and metrics.ap75 == 0.0
    assert metrics.ap == pytest.approx(0.3)  # matched at IoU 0.50, 0.55 and 0.60 of the ten thresholds


def test_wrong_class_and_no_detections_score_zero():
    dataset = _dataset(GT)
    truth = ground_truth(dataset, dataset.val)
    wrong = {
        r.image_id: torch.cat((rows[:, :5], 1 - rows[:, 5:]), dim=1)
        for r, rows in zip(GT, _as_detections(GT).values(), strict=True)
    }
    assert evaluate(truth, wrong, dataset.category_ids).ap == 0.0
    assert evaluate(truth, {1: torch.zeros(0, 6), 2: torch.zeros(0, 6)}, dataset.category_ids).ap == 0.0


def test_coco_layout_uses_the_instances_file(synth_dataset):
    dataset = open_dataset(synth_dataset)
    truth = ground_truth(dataset, dataset.val)
    assert len(truth.getImgIds()) == len(dataset.val.records)
    metrics = evaluate(truth, _as_detections(dataset.val.records), dataset.category_ids)
    assert metrics.ap == pytest.approx(1.0) and metrics.fitness == pytest.approx(1.0)
