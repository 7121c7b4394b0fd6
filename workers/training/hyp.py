"""Training hyperparameters: names and defaults of the reference hyp files (spec §5)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

RENAMED = {"giou": "box"}  # older ScaledYOLOv4 hyp files call the box gain 'giou'
# an exported hyp file names the trial's optimizer beside the numbers (the reference's --adam flag)
OPTIMIZER_KEY = "optimizer"


# data/hyp.finetune.yaml of the reference (spec §5.1): the scratch values but for these two; the
# base of every network that starts from trained weights (a job's initial weights, its supernet)
FINE_TUNE_CHANGES: dict[str, float] = {"scale": 0.8, "mixup": 0.2}


class HypError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Hyperparameters:
    """Defaults: ScaledYOLOv4 yolov4-large data/hyp.scratch.yaml plus the yolov4-csp branch's
    final-lr and warm-up keys (lrf, warmup_*) and mosaic probability; ``label_smoothing`` is ours."""

    lr0: float = 0.01
    lrf: float = 0.2
    momentum: float = 0.937
    weight_decay: float = 0.0005
    warmup_epochs: float = 3.0
    warmup_momentum: float = 0.8
    warmup_bias_lr: float = 0.1
    box: float = 0.05
    cls: float = 0.5
    cls_pw: float = 1.0
    obj: float = 1.0
    obj_pw: float = 1.0
    iou_t: float = 0.2
    anchor_t: float = 4.0
    fl_gamma: float = 0.0
    label_smoothing: float = 0.0
    hsv_h: float = 0.015
    hsv_s: float = 0.7
    hsv_v: float = 0.4
    degrees: float = 0.0
    translate: float = 0.5
    scale: float = 0.5
    shear: float = 0.0
    perspective: float = 0.0
    flipud: float = 0.0
    fliplr: float = 0.5
    mosaic: float = 1.0
    mixup: float = 0.0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise HypError(item.name, f"must be a number, got {value!r}")
            if value < 0:
                raise HypError(item.name, f"must be ≥ 0, got {value}")
        for name in ("flipud", "fliplr", "mosaic", "mixup", "lrf", "label_smoothing"):
            if getattr(self, name) > 1:
                raise HypError(name, f"is a probability or fraction in [0, 1], got {getattr(self, name)}")
        if self.anchor_t <= 1:
            raise HypError("anchor_t", f"must be > 1, got {self.anchor_t}")

    def replace(self, **changes: float) -> Hyperparameters:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    def to_hyp_file(self, optimizer: str) -> dict[str, float | str]:
        """An exported hyp file: every key, each older name beside the key it became (yolov4-large's
        train.py reads ``giou``, yolov4-csp's ``box``: both hold the one gain), and ``optimizer``
        last; ``from_mapping`` reads it back."""
        older_names = {key: older for older, key in RENAMED.items()}
        values: dict[str, float | str] = {}
        for key, value in self.to_dict().items():
            values[key] = value
            if key in older_names:
                values[older_names[key]] = value
        values[OPTIMIZER_KEY] = _known_optimizer(optimizer)
        return values

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Hyperparameters:
        """The hyperparameters of a hyp file's mapping: older names are read as the keys they became
        (a file holding both must give them one value), and an ``optimizer`` key (an export's hyp
        file names one) is checked and left to the caller (``TrialConfig.optimizer``)."""
        known = {item.name for item in fields(cls)}
        if OPTIMIZER_KEY in values:
            _known_optimizer(values[OPTIMIZER_KEY])
            values = {key: value for key, value in values.items() if key != OPTIMIZER_KEY}
        for older, key in RENAMED.items():
            if older in values and key in values and values[older] != values[key]:
                message = f"is the older name of {key} but the file gives them two values"
                raise HypError(older, f"{message}: {values[older]!r} and {values[key]!r}")
        renamed = {RENAMED.get(key, key): value for key, value in values.items()}
        unknown = sorted(set(renamed) - known)
        if unknown:
            raise HypError(unknown[0], f"unknown hyperparameter (known: {', '.join(sorted(known))})")
        return cls(**renamed)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Hyperparameters:
        try:
            values = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as error:
            raise HypError("hyp", f"cannot read {path}: {error}") from error
        if not isinstance(values, dict):
            raise HypError("hyp", f"{path} must be a mapping of hyperparameter names to numbers")
        return cls.from_mapping(values)


def _known_optimizer(value: Any) -> str:
    from workers.training.optim import OPTIMIZERS  # that module imports this one

    if value not in OPTIMIZERS:
        raise HypError(OPTIMIZER_KEY, f"must be one of {', '.join(OPTIMIZERS)}, got {value!r}")
    return str(value)
