"""Evaluate a detector on a validation loader: NMS, boxes back to original pixels, COCO AP, and
(given a loss) the validation loss in the same pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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


LossFunction = Callable[[list[torch.Tensor], torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
LOSS_NAMES = ("box", "obj", "cls", "total")


@dataclass(frozen=True)
class Validation:
    metrics: CocoMetrics
    losses: dict[str, float] = field(default_factory=dict)  # box, obj, cls, total: means per batch


@torch.no_grad()
def evaluate_model(
    model: Detector,
    loader: DataLoader,
    truth: COCO,
    category_ids: tuple[int, ...],
    nms: NMSConfig | None = None,
    device: torch.device | str = "cpu",
    loss: LossFunction | None = None,
) -> Validation:
    """COCO metrics of ``model`` (put in eval mode) over every image of ``loader``; with ``loss``
    (raw outputs, targets → (scaled loss, [box, obj, cls, total])) also its mean items."""
    was_training = model.training
    model.eval()
    detections: dict[int, torch.Tensor] = {}
    sums, batches = torch.zeros(len(LOSS_NAMES)), 0
    for images, targets, metas in loader:
        predictions, raw = model(images.to(device, non_blocking=True))
        if loss is not None:
            sums += loss([level.float() for level in raw], targets.to(device))[1].cpu()
            batches += 1
        for rows, meta in zip(non_max_suppression(predictions.float(), nms), metas, strict=True):
            detections[meta.image_id] = to_original_pixels(
                rows.cpu(), meta.ratio, meta.padding, meta.original_size
            )
    model.train(was_training)
    losses = dict(zip(LOSS_NAMES, (sums / batches).tolist(), strict=True)) if batches else {}
    return Validation(evaluate(truth, detections, category_ids), losses)
