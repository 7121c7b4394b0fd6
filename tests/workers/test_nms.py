"""NMS against a brute-force greedy reference."""

from __future__ import annotations

import pytest
import torch

from workers.evaluation.boxes import pairwise_iou
from workers.evaluation.nms import NMSConfig, greedy_nms, non_max_suppression


def brute_force(boxes, scores, threshold, limit, diou=False):
    overlap = pairwise_iou(boxes, boxes, diou).tolist()
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    kept = []
    for i in order:
        if all(overlap[i][j] <= threshold for j in kept):
            kept.append(i)
        if len(kept) == limit:
            break
    return kept


def random_boxes(generator, count, size=200.0):
    centres = torch.rand(count, 2, generator=generator) * size
    sides = torch.rand(count, 2, generator=generator) * 60 + 2
    return torch.cat((centres - sides / 2, centres + sides / 2), dim=1)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("diou", [False, True])
def test_greedy_nms_equals_brute_force(seed, diou):
    generator = torch.Generator().manual_seed(seed)
    boxes = random_boxes(generator, 300)
    scores = torch.rand(300, generator=generator)
    threshold = [0.3, 0.5, 0.65][seed % 3]
    assert greedy_nms(boxes, scores, threshold, 1000, diou).tolist() == brute_force(
        boxes, scores, threshold, 1000, diou
    )


def test_blocks_and_limit(monkeypatch):
    import workers.evaluation.nms as nms

    monkeypatch.setattr(nms, "BLOCK", 16)  # many blocks: kept boxes must suppress later blocks
    generator = torch.Generator().manual_seed(42)
    boxes = random_boxes(generator, 200, size=120.0)
    scores = torch.rand(200, generator=generator)
    assert greedy_nms(boxes, scores, 0.45, 1000).tolist() == brute_force(boxes, scores, 0.45, 1000)
    assert greedy_nms(boxes, scores, 0.45, 7).tolist() == brute_force(boxes, scores, 0.45, 7)


def _predictions(rows):
    """rows of (cx, cy, w, h, objectness, class probabilities...)."""
    return torch.tensor([rows], dtype=torch.float32)


def test_class_aware_batched_postprocessing():
    predictions = _predictions(
        [
            [50, 50, 20, 20, 0.9, 0.9, 0.1],  # class 0, best
            [51, 50, 20, 20, 0.8, 0.9, 0.1],  # same place, class 0: suppressed
            [51, 50, 20, 20, 0.8, 0.1, 0.9],  # same place, class 1: kept
            [150, 150, 1, 30, 0.9, 0.9, 0.1],  # narrower than min_wh: dropped
            [100, 100, 20, 20, 0.0005, 0.9, 0.9],  # below the confidence threshold
        ]
    )
    (detections,) = non_max_suppression(predictions, NMSConfig(multi_label=False))
    assert detections[:, 5].tolist() == [0.0, 1.0]
    assert detections[0, :4].tolist() == [40.0, 40.0, 60.0, 60.0]
    assert detections[0, 4].item() == pytest.approx(0.81)
    (agnostic,) = non_max_suppression(predictions, NMSConfig(multi_label=False, agnostic=True))
    assert len(agnostic) == 1
    (multi,) = non_max_suppression(predictions, NMSConfig(multi_label=True))
    # every label above 0.001 is a candidate; per class only the best of the three boxes survives
    assert sorted(multi[:, 5].tolist()) == [0.0, 1.0] and sorted(multi[:, 4].tolist()) == pytest.approx(
        [0.72, 0.81]
    )


def test_max_detections_and_empty_images():
    generator = torch.Generator().manual_seed(1)
    rows = torch.rand(1, 2000, 7, generator=generator)
    rows[..., :2] *= 600
    rows[..., 2:4] = rows[..., 2:4] * 10 + 3
    results = non_max_suppression(torch.cat((rows, torch.zeros(1, 2000, 7))), NMSConfig(max_detections=300))
    assert len(results[0]) == 300 and len(results[1]) == 0
    assert (results[0][:-1, 4] >= results[0][1:, 4]).all()
