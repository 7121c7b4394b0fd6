"""Evaluate a detector on a validation loader: NMS, boxes back to original pixels, COCO AP."""

from __future__ import annotations

import torch
from pycocotools.coco import COCO
from torch.utils.data import DataLoader

from scaler import Detector
from workers.evaluation.coco_eval import evaluate
from workers.evaluation.nms import NMSConfig, non_max_suppression
from workers.results import CocoMetrics


def to_original_pixels(
    rows: torch.Tensor, ratio: float, padding: tuple[float, float], size: tuple[int, int]
) -> torch.Tensor:
    """Undo letterbox padding and resizing, then clip to the (height, width) image."""
    rows = rows.clone()
    rows[:, [0, 2]] = ((rows[:, [0, 2]] - padding[0]) / ratio).clamp(0, size[1])
    rows[:, [1, 3]] = ((rows[:, [1, 3]] - padding[1]) / ratio).clamp(0, size[0])
    return rows


@torch.no_grad()
def evaluate_model(
    model: Detector,
    loader: DataLoader,
    truth: COCO,
    category_ids: tuple[int, ...],
    nms: NMSConfig | None = None,
    device: torch.device | str = "cpu",
) -> CocoMetrics:
    """COCO metrics of ``model`` (put in eval mode) over every image of ``loader``."""
    was_training = model.training
    model.eval()
    detections: dict[int, torch.Tensor] = {}
    for images, _, metas in loader:
        predictions, _ = model(images.to(device, non_blocking=True))
        for rows, meta in zip(non_max_suppression(predictions.float(), nms), metas, strict=True):
            detections[meta.image_id] = to_original_pixels(
                rows.cpu(), meta.ratio, meta.padding, meta.original_size
            )
    model.train(was_training)
    return evaluate(truth, detections, category_ids)
