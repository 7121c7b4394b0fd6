"""The released Scaled-YOLOv4 family (spec §1.1) and the original YOLOv4 as scaling points."""

from __future__ import annotations

from scaler.architecture import ArchitectureSpec
from scaler.errors import SpecError
from scaler.scaling.compound import compound_scale
from scaler.scaling.point import ScalingPoint

PRESETS: dict[str, ScalingPoint] = {
    "yolov4-csp": ScalingPoint(family="csp", input_size=640, stages=5, name="yolov4-csp"),
    "yolov4-p5": ScalingPoint(family="large", input_size=896, stages=5, name="yolov4-p5"),
    "yolov4-p6": ScalingPoint(family="large", input_size=1280, stages=6, name="yolov4-p6"),
    "yolov4-p7": ScalingPoint(
        family="large", input_size=1536, stages=7, width_multiple=1.25, name="yolov4-p7"
    ),
    "yolov4-tiny": ScalingPoint(family="tiny", input_size=416, stages=5, name="yolov4-tiny"),
    "yolov4": ScalingPoint(family="yolov4", input_size=608, stages=5, name="yolov4"),
}


def preset_names() -> list[str]:
    return list(PRESETS)


def preset_point(name: str) -> ScalingPoint:
    if name not in PRESETS:
        raise SpecError("model", f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def preset_architecture(name: str) -> ArchitectureSpec:
    return compound_scale(preset_point(name))
