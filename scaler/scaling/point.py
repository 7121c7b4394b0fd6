"""A compound-scaling point: the coordinates the search moves along (paper §3, §4.3)."""

from __future__ import annotations

from dataclasses import dataclass

from scaler.blocks import Anchors
from scaler.blocks.activations import check_activation
from scaler.errors import SpecError

FAMILIES: tuple[str, ...] = ("large", "csp", "tiny", "yolov4")
FIXED_LAYOUT_FAMILIES: tuple[str, ...] = ("tiny", "yolov4")
MIN_STAGES, MAX_STAGES = 4, 8
MAX_DEPTH_EXPONENT = 8
TINY_STAGES = 5


@dataclass(frozen=True)
class ScalingPoint:
    """Input size, number of stages, depth per stage and width of one candidate network.

    ``stages``: the backbone's number of stride-2 stages; the head predicts at P3 … P<stages>
    (5 → P5 heads at strides 8/16/32, 6 → P6, 7 → P7, …). ``depth_exponents`` gives each stage
    2^ds − 1 residual layers (paper §4.3); ``repeats`` gives them explicitly; neither means the
    family's released counts. ``depth_multiple`` and ``width_multiple`` then apply with the
    reference rounding (banker's rounding for depth, ceil to a multiple of 8 for width).
    """

    family: str = "large"
    input_size: int = 640
    stages: int = 5
    depth_exponents: tuple[int, ...] | None = None
    repeats: tuple[int, ...] | None = None
    neck_repeats: int | None = None
    depth_multiple: float = 1.0
    width_multiple: float = 1.0
    activation: str | None = None
    num_classes: int = 80
    anchors: Anchors | None = None
    anchors_per_level: int | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        _check_family_and_stages(self)
        _check_sizes(self)
        _check_depth(self)
        if self.activation is not None:
            check_activation(self.activation)
        if self.anchors is not None:
            _check_anchors(self.anchors, len(self.detection_levels))

    @property
    def max_stride(self) -> int:
        return 2**self.stages

    @property
    def detection_levels(self) -> tuple[int, ...]:
        if self.family == "tiny":
            return (4, 5)
        return tuple(range(3, self.stages + 1))

    @property
    def resolved_activation(self) -> str:
        if self.activation is not None:
            return self.activation
        return "leaky" if self.family == "tiny" else "mish"


def _check_family_and_stages(point: ScalingPoint) -> None:
    if point.family not in FAMILIES:
        raise SpecError("family", f"unknown family {point.family!r}; choose one of {', '.join(FAMILIES)}")
    if not isinstance(point.stages, int) or not MIN_STAGES <= point.stages <= MAX_STAGES:
        raise SpecError("stages", f"must be an integer in [{MIN_STAGES}, {MAX_STAGES}], got {point.stages!r}")
    if point.family in FIXED_LAYOUT_FAMILIES and point.stages != TINY_STAGES:
        raise SpecError("stages", f"the {point.family} family has a fixed layout with 5 stages")


def _check_sizes(point: ScalingPoint) -> None:
    if not isinstance(point.input_size, int) or point.input_size <= 0:
        raise SpecError("input_size", f"must be a positive integer, got {point.input_size!r}")
    stride = point.max_stride
    if point.input_size % stride:
        lower = max(stride, point.input_size // stride * stride)
        raise SpecError(
            "input_size",
            f"{point.input_size} is not a multiple of the largest stride {stride} (P{point.stages}); "
            f"use {lower} or {lower + stride}",
        )
    if not point.width_multiple > 0:
        raise SpecError("width_multiple", f"must be > 0, got {point.width_multiple!r}")
    if not point.depth_multiple > 0:
        raise SpecError("depth_multiple", f"must be > 0, got {point.depth_multiple!r}")
    if not isinstance(point.num_classes, int) or point.num_classes < 1:
        raise SpecError("num_classes", f"must be a positive integer, got {point.num_classes!r}")
    if point.anchors_per_level is not None and point.anchors_per_level < 1:
        raise SpecError("anchors_per_level", "must be ≥ 1")


def _check_depth(point: ScalingPoint) -> None:
    if point.depth_exponents is not None and point.repeats is not None:
        raise SpecError("depth_exponents", "give depth_exponents or repeats, not both")
    if point.family == "tiny" and (point.depth_exponents is not None or point.repeats is not None):
        raise SpecError("depth_exponents", "the tiny family has no per-stage depth to choose")
    for field, values, upper in (
        ("depth_exponents", point.depth_exponents, MAX_DEPTH_EXPONENT),
        ("repeats", point.repeats, 2**MAX_DEPTH_EXPONENT),
    ):
        if values is None:
            continue
        if len(values) != point.stages:
            raise SpecError(field, f"needs one value per stage ({point.stages}), got {len(values)}")
        for index, value in enumerate(values):
            if not isinstance(value, int) or not 0 <= value <= upper:
                raise SpecError(f"{field}[{index}]", f"must be an integer in [0, {upper}], got {value!r}")
    if point.neck_repeats is not None and not 0 <= point.neck_repeats <= 2**MAX_DEPTH_EXPONENT:
        raise SpecError("neck_repeats", f"must be in [0, {2**MAX_DEPTH_EXPONENT}]")


def _check_anchors(anchors: Anchors, levels: int) -> None:
    if len(anchors) != levels:
        raise SpecError("anchors", f"needs one row per detection level ({levels}), got {len(anchors)}")
    widths = {len(row) for row in anchors}
    if len(widths) != 1 or next(iter(widths)) % 2 or next(iter(widths)) == 0:
        raise SpecError("anchors", "every level needs the same, even number of values (w,h pairs)")
    if any(value <= 0 for row in anchors for value in row):
        raise SpecError("anchors", "anchor sizes must be positive")
