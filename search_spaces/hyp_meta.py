"""The reference evolution's meta table (spec §7.3, ScaledYOLOv4 yolov4-csp = YOLOv5 v5.0):
per hyperparameter (mutation gain, lower limit, upper limit), with the training defaults."""

from __future__ import annotations

from typing import NamedTuple


class Meta(NamedTuple):
    gain: float
    lower: float
    upper: float


HYP_META: dict[str, Meta] = {
    "lr0": Meta(1, 1e-5, 1e-1),
    "lrf": Meta(1, 0.01, 1.0),
    "momentum": Meta(0.3, 0.6, 0.98),
    "weight_decay": Meta(1, 0.0, 0.001),
    "warmup_epochs": Meta(1, 0.0, 5.0),
    "warmup_momentum": Meta(1, 0.0, 0.95),
    "warmup_bias_lr": Meta(1, 0.0, 0.2),
    "box": Meta(1, 0.02, 0.2),
    "cls": Meta(1, 0.2, 4.0),
    "cls_pw": Meta(1, 0.5, 2.0),
    "obj": Meta(1, 0.2, 4.0),
    "obj_pw": Meta(1, 0.5, 2.0),
    "iou_t": Meta(0, 0.1, 0.7),
    "anchor_t": Meta(1, 2.0, 8.0),
    "fl_gamma": Meta(0, 0.0, 2.0),
    "label_smoothing": Meta(0, 0.0, 0.2),
    "hsv_h": Meta(1, 0.0, 0.1),
    "hsv_s": Meta(1, 0.0, 0.9),
    "hsv_v": Meta(1, 0.0, 0.9),
    "degrees": Meta(1, 0.0, 45.0),
    "translate": Meta(1, 0.0, 0.9),
    "scale": Meta(1, 0.0, 0.9),
    "shear": Meta(1, 0.0, 10.0),
    "perspective": Meta(0, 0.0, 0.001),
    "flipud": Meta(1, 0.0, 1.0),
    "fliplr": Meta(0, 0.0, 1.0),
    "mosaic": Meta(1, 0.0, 1.0),
    "mixup": Meta(1, 0.0, 1.0),
}

# Training defaults (ScaledYOLOv4 yolov4-large hyp.scratch + the csp branch's lrf / warm-up keys);
# kept in step with workers.training.hyp.Hyperparameters by a test.
HYP_DEFAULTS: dict[str, float] = {
    "lr0": 0.01,
    "lrf": 0.2,
    "momentum": 0.937,
    "weight_decay": 0.0005,
    "warmup_epochs": 3.0,
    "warmup_momentum": 0.8,
    "warmup_bias_lr": 0.1,
    "box": 0.05,
    "cls": 0.5,
    "cls_pw": 1.0,
    "obj": 1.0,
    "obj_pw": 1.0,
    "iou_t": 0.2,
    "anchor_t": 4.0,
    "fl_gamma": 0.0,
    "label_smoothing": 0.0,
    "hsv_h": 0.015,
    "hsv_s": 0.7,
    "hsv_v": 0.4,
    "degrees": 0.0,
    "translate": 0.5,
    "scale": 0.5,
    "shear": 0.0,
    "perspective": 0.0,
    "flipud": 0.0,
    "fliplr": 0.5,
    "mosaic": 1.0,
    "mixup": 0.0,
}

AUGMENTATION_KEYS: tuple[str, ...] = (
    "hsv_h", "hsv_s", "hsv_v", "degrees", "translate", "scale", "shear", "perspective",
    "flipud", "fliplr", "mosaic", "mixup",
)  # fmt: skip
