"""Box geometry in torch: format conversion, pairwise IoU and DIoU."""

from __future__ import annotations

import math

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


def complete_iou(predicted: torch.Tensor, target: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """Element-wise CIoU of (n, 4) xywh boxes (Zheng et al. 2020): IoU − ρ²/c² − α·v, with
    v = 4/π²·(atan(w_t/h_t) − atan(w_p/h_p))² and α = v / (1 − IoU + v) taken as a constant."""
    first, second = xywh_to_xyxy(predicted), xywh_to_xyxy(target)
    overlap = (torch.minimum(first[:, 2:], second[:, 2:]) - torch.maximum(first[:, :2], second[:, :2])).clamp(
        min=0
    )
    intersection = overlap.prod(-1)
    predicted_wh, target_wh = predicted[:, 2:4], target[:, 2:4]
    union = predicted_wh.prod(-1) + target_wh.prod(-1) - intersection + eps
    iou = intersection / union
    enclosing = torch.maximum(first[:, 2:], second[:, 2:]) - torch.minimum(first[:, :2], second[:, :2])
    diagonal = enclosing.pow(2).sum(-1) + eps
    centre_distance = (predicted[:, :2] - target[:, :2]).pow(2).sum(-1)
    v = (4 / math.pi**2) * (
        torch.atan(target_wh[:, 0] / (target_wh[:, 1] + eps))
        - torch.atan(predicted_wh[:, 0] / (predicted_wh[:, 1] + eps))
    ).pow(2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return iou - centre_distance / diagonal - alpha * v
