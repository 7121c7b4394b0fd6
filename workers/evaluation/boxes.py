"""Box geometry in torch: format conversion, pairwise IoU and DIoU."""

from __future__ import annotations

import torch


def xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """(…, 4) centre-x, centre-y, width, height → x1, y1, x2, y2."""
    half = boxes[..., 2:4] / 2
    return torch.cat((boxes[..., :2] - half, boxes[..., :2] + half), dim=-1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def pairwise_iou(first: torch.Tensor, second: torch.Tensor, distance: bool = False) -> torch.Tensor:
    """(N, M) IoU of xyxy boxes; with ``distance`` the DIoU: IoU − ρ²(centres) / c²(enclosing diagonal)."""
    top_left = torch.maximum(first[:, None, :2], second[None, :, :2])
    bottom_right = torch.minimum(first[:, None, 2:], second[None, :, 2:])
    intersection = (bottom_right - top_left).clamp(min=0).prod(-1)
    union = box_area(first)[:, None] + box_area(second)[None, :] - intersection
    iou = intersection / union.clamp(min=1e-9)
    if not distance:
        return iou
    centre_first = (first[:, None, :2] + first[:, None, 2:]) / 2
    centre_second = (second[None, :, :2] + second[None, :, 2:]) / 2
    enclosing = torch.maximum(first[:, None, 2:], second[None, :, 2:]) - torch.minimum(
        first[:, None, :2], second[None, :, :2]
    )
    diagonal = enclosing.pow(2).sum(-1).clamp(min=1e-9)
    return iou - (centre_first - centre_second).pow(2).sum(-1) / diagonal
