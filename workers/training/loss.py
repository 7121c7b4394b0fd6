"""The Scaled-YOLOv4 loss (spec §9): build_targets with anchor-ratio matching and neighbour
cells, CIoU box loss, objectness target = IoU, class BCE, per-level balance, gains by level count."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from scaler import Detector
from workers.evaluation.boxes import complete_iou
from workers.training.hyp import Hyperparameters

# Objectness balance per level (ScaledYOLOv4): keyed by the number of outputs.
BALANCE = {3: (4.0, 1.0, 0.4), 4: (4.0, 1.0, 0.4, 0.1), 5: (4.0, 1.0, 0.5, 0.4, 0.1)}
NEIGHBOUR_OFFSETS = ((0, 0), (1, 0), (0, 1), (-1, 0), (0, -1))
OFFSET_REACH = 0.5
IOU_RATIO = 1.0  # gr: objectness target = (1 − gr) + gr·IoU


def level_balance(levels: tuple[int, ...]) -> tuple[float, ...]:
    """The released tables for 3–5 outputs; fewer outputs (tiny: P4, P5) take their levels'
    entries of the 3-output table; more outputs repeat the last weight."""
    if len(levels) in BALANCE:
        return BALANCE[len(levels)]
    if len(levels) < 3:
        return tuple(BALANCE[3][min(max(level - 3, 0), 2)] for level in levels)
    return BALANCE[5] + (BALANCE[5][-1],) * (len(levels) - 5)


class FocalLoss(nn.Module):
    """Focal loss around BCE-with-logits (γ = fl_gamma, α = 0.25), mean-reduced."""

    def __init__(self, bce: nn.BCEWithLogitsLoss, gamma: float, alpha: float = 0.25) -> None:
        super().__init__()
        self.bce = bce
        self.bce.reduction = "none"
        self.gamma = gamma
        self.alpha = alpha

    def forward(self, logits: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        loss = self.bce(logits, truth)
        probability = logits.sigmoid()
        p_t = truth * probability + (1 - truth) * (1 - probability)
        alpha_factor = truth * self.alpha + (1 - truth) * (1 - self.alpha)
        return (loss * alpha_factor * (1.0 - p_t) ** self.gamma).mean()


@dataclass(frozen=True)
class Targets:
    """Per level: (image, anchor, grid y, grid x) indices, box targets (xy offset in the cell,
    wh in grid units), the matched anchors (grid units) and classes."""

    indices: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]
    boxes: list[torch.Tensor]
    anchors: list[torch.Tensor]
    classes: list[torch.Tensor]


def build_targets(
    predictions: list[torch.Tensor], targets: torch.Tensor, anchors: torch.Tensor, anchor_t: float
) -> Targets:
    """Match labels (n, 6: image, class, x, y, w, h normalised) to anchors and grid cells.

    A label goes to every anchor whose width and height ratios to it are within ``anchor_t``, in
    its own cell and the two neighbouring cells nearest to its centre."""
    anchors_per_level = anchors.shape[1]
    count = targets.shape[0]
    device = targets.device
    result = Targets([], [], [], [])
    anchor_index = torch.arange(anchors_per_level, device=device).float().view(-1, 1).repeat(1, count)
    labelled = torch.cat((targets.repeat(anchors_per_level, 1, 1), anchor_index[:, :, None]), dim=2)
    offsets = torch.tensor(NEIGHBOUR_OFFSETS, device=device).float() * OFFSET_REACH
    for level, prediction in enumerate(predictions):
        height, width = prediction.shape[2], prediction.shape[3]
        gain = torch.tensor([1, 1, width, height, width, height, 1], device=device, dtype=torch.float32)
        level_anchors = anchors[level]
        scaled = labelled * gain
        cell_offsets = torch.zeros((0, 2), device=device)
        if count:
            ratio = scaled[:, :, 4:6] / level_anchors[:, None]
            scaled = scaled[torch.maximum(ratio, 1 / ratio).max(dim=2).values < anchor_t]
            centre = scaled[:, 2:4]
            inverse = gain[[2, 3]] - centre
            left, top = ((centre % 1 < OFFSET_REACH) & (centre > 1)).T
            right, bottom = ((inverse % 1 < OFFSET_REACH) & (inverse > 1)).T
            chosen = torch.stack((torch.ones_like(left), left, top, right, bottom))
            scaled = scaled.repeat((5, 1, 1))[chosen]
            cell_offsets = (torch.zeros_like(centre)[None] + offsets[:, None])[chosen]
        else:
            scaled = scaled[0]
        image, category = scaled[:, :2].long().T
        centre = scaled[:, 2:4]
        cell = (centre - cell_offsets).long()
        cell_x = cell[:, 0].clamp(0, width - 1)
        cell_y = cell[:, 1].clamp(0, height - 1)
        anchor = scaled[:, 6].long()
        result.indices.append((image, anchor, cell_y, cell_x))
        result.boxes.append(torch.cat((centre - torch.stack((cell_x, cell_y), dim=1), scaled[:, 4:6]), dim=1))
        result.anchors.append(level_anchors[anchor])
        result.classes.append(category)
    return result


class YoloLoss:
    """loss(raw predictions, targets) → (total × batch size, [box, obj, cls, total] detached)."""

    def __init__(self, model: Detector, hyp: Hyperparameters) -> None:
        head = model.detect
        device = head.anchors.device
        self.anchors = head.anchors.detach()  # grid units
        self.num_classes = head.nc
        self.hyp = hyp
        self.balance = level_balance(tuple(int(s).bit_length() - 1 for s in head.stride.tolist()))
        levels = head.nl
        self.gain_box = hyp.box * 3 / levels
        self.gain_obj = hyp.obj * 3 / levels * (1.4 if levels >= 4 else 1.0)
        self.gain_cls = hyp.cls * self.num_classes / 80 * 3 / levels
        class_bce = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([hyp.cls_pw], device=device))
        object_bce = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([hyp.obj_pw], device=device))
        self.class_bce: nn.Module = FocalLoss(class_bce, hyp.fl_gamma) if hyp.fl_gamma > 0 else class_bce
        self.object_bce: nn.Module = FocalLoss(object_bce, hyp.fl_gamma) if hyp.fl_gamma > 0 else object_bce
        self.positive = 1.0 - 0.5 * hyp.label_smoothing
        self.negative = 0.5 * hyp.label_smoothing

    def __call__(
        self, predictions: list[torch.Tensor], targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        device = predictions[0].device
        anchors = self.anchors.to(device)
        matched = build_targets(predictions, targets.to(device), anchors, self.hyp.anchor_t)
        box_loss = torch.zeros(1, device=device)
        object_loss = torch.zeros(1, device=device)
        class_loss = torch.zeros(1, device=device)
        for level, prediction in enumerate(predictions):
            prediction = prediction.float()
            image, anchor, cell_y, cell_x = matched.indices[level]
            objectness = torch.zeros_like(prediction[..., 0])
            if len(image):
                selected = prediction[image, anchor, cell_y, cell_x]
                xy = selected[:, :2].sigmoid() * 2 - 0.5
                wh = (selected[:, 2:4].sigmoid() * 2) ** 2 * matched.anchors[level]
                iou = complete_iou(torch.cat((xy, wh), dim=1), matched.boxes[level])
                box_loss += (1.0 - iou).mean()
                objectness[image, anchor, cell_y, cell_x] = (
                    1.0 - IOU_RATIO
                ) + IOU_RATIO * iou.detach().clamp(0)
                if self.num_classes > 1:
                    truth = torch.full_like(selected[:, 5:], self.negative)
                    truth[torch.arange(len(image), device=device), matched.classes[level]] = self.positive
                    class_loss += self.class_bce(selected[:, 5:], truth)
            object_loss += self.object_bce(prediction[..., 4], objectness) * self.balance[level]
        box_loss *= self.gain_box
        object_loss *= self.gain_obj
        class_loss *= self.gain_cls
        total = box_loss + object_loss + class_loss
        batch = predictions[0].shape[0]
        return total * batch, torch.cat((box_loss, object_loss, class_loss, total)).detach()
