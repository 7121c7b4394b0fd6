"""Batched, class-aware non-maximum suppression written in torch (no torchvision needed).

Follows the reference's post-processing (spec §6): score = objectness × class probability,
candidates above ``conf_threshold`` (every class above it when ``multi_label``), boxes of
different classes kept apart by a class offset, greedy suppression at ``iou_threshold`` (or by
DIoU), at most ``max_detections`` per image. The greedy pass is exact: candidates are processed
in score order in blocks; each block is first checked against the boxes already kept, then
resolved within itself by iterating "kept unless a kept higher-scoring box overlaps" to its fixed
point, which is the greedy answer. It stops as soon as ``max_detections`` boxes are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workers.evaluation.boxes import pairwise_iou, xywh_to_xyxy

MAX_WH = 4096  # class offset, larger than any image side
BLOCK = 1024


@dataclass(frozen=True)
class NMSConfig:
    conf_threshold: float = 0.001
    iou_threshold: float = 0.65
    max_detections: int = 300
    max_candidates: int = 30000
    multi_label: bool = True
    agnostic: bool = False
    diou: bool = False
    min_wh: float = 2.0


def greedy_nms(
    boxes: torch.Tensor, scores: torch.Tensor, threshold: float, limit: int, diou: bool = False
) -> torch.Tensor:
    """Indices of the boxes greedy NMS keeps, best first (at most ``limit``)."""
    order = scores.argsort(descending=True)
    kept: list[torch.Tensor] = []
    kept_boxes = boxes.new_zeros((0, 4))
    for start in range(0, len(order), BLOCK):
        block = order[start : start + BLOCK]
        block_boxes = boxes[block]
        alive = torch.ones(len(block), dtype=torch.bool, device=boxes.device)
        if len(kept_boxes):
            alive &= ~(pairwise_iou(block_boxes, kept_boxes, diou) > threshold).any(dim=1)
        overlaps = (pairwise_iou(block_boxes, block_boxes, diou) > threshold).triu(diagonal=1)
        candidate = alive.clone()
        while True:  # kept[j] = alive[j] and no kept i < j overlaps j
            suppressed = (overlaps & candidate[:, None]).any(dim=0)
            updated = alive & ~suppressed
            if torch.equal(updated, candidate):
                break
            candidate = updated
        survivors = block[candidate]
        kept.append(survivors)
        kept_boxes = torch.cat((kept_boxes, boxes[survivors]))
        if len(kept_boxes) >= limit:
            break
    if not kept:
        return order[:0]
    return torch.cat(kept)[:limit]


def non_max_suppression(predictions: torch.Tensor, config: NMSConfig | None = None) -> list[torch.Tensor]:
    """Per image, an (n, 6) tensor x1, y1, x2, y2, score, class from decoded predictions
    (batch, N, 5 + classes) as the Detect head returns them (xywh in input pixels)."""
    settings = config or NMSConfig()
    output = []
    for image in predictions:
        image = image[(image[:, 4] > settings.conf_threshold) & (image[:, 2:4] > settings.min_wh).all(dim=1)]
        scores = image[:, 5:] * image[:, 4:5] if image.shape[1] > 5 else image[:, 4:5]
        boxes = xywh_to_xyxy(image[:, :4])
        if settings.multi_label and scores.shape[1] > 1:
            rows, classes = (scores > settings.conf_threshold).nonzero(as_tuple=True)
            detections = torch.cat(
                (boxes[rows], scores[rows, classes, None], classes[:, None].float()), dim=1
            )
        else:
            best, classes = scores.max(dim=1, keepdim=True)
            detections = torch.cat((boxes, best, classes.float()), dim=1)[
                best.view(-1) > settings.conf_threshold
            ]
        if len(detections) > settings.max_candidates:
            detections = detections[detections[:, 4].argsort(descending=True)[: settings.max_candidates]]
        offsets = 0.0 if settings.agnostic else detections[:, 5:6] * MAX_WH
        keep = greedy_nms(
            detections[:, :4] + offsets,
            detections[:, 4],
            settings.iou_threshold,
            settings.max_detections,
            settings.diou,
        )
        output.append(detections[keep])
    return output
