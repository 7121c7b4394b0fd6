"""compound_scale: scaling point → ArchitectureSpec, with the reference rounding rules."""

from __future__ import annotations

from scaler.anchors import default_anchors
from scaler.architecture import ArchitectureSpec, HeadSpec, NeckLevelSpec, NeckSpec, StageSpec
from scaler.scaling.point import ScalingPoint
from scaler.scaling.rules import repeats_from_exponent, scale_depth, scale_width

STEM_CHANNELS = 32
MAX_STAGE_CHANNELS = 1024
MAX_NECK_CHANNELS = 512
# Released depth: YOLOv4-large stages use ds = [1, 2, 4, 4, 3] (+3 per extra stage), its neck 2^2 − 1;
# YOLOv4-CSP keeps CSPDarknet53's counts 1-2-8-8-4 (the first one a plain residual layer), neck 2.
# The original YOLOv4 (CSPDarknet53 + SPP + PAN) has the same counts and a neck of plain convs.
LARGE_DEPTH_EXPONENTS = (1, 2, 4, 4, 3)
LARGE_EXTRA_STAGE_EXPONENT = 3
LARGE_NECK_REPEATS = 3
CSP_REPEATS = (1, 2, 8, 8, 4)
CSP_NECK_REPEATS = 2
TINY_STAGE_CHANNELS = (64, 128, 256)
TINY_TOP_CHANNELS = 512
TINY_NECK = ((4, 128, 256), (5, 256, 512))
TINY_ANCHORS_PER_LEVEL = 3
LARGE_ANCHORS_PER_LEVEL = 4
CSP_ANCHORS_PER_LEVEL = 3


def base_stage_channels(level: int) -> int:
    """Widths double per stage from 64 and stay at 1024 from P5 on."""
    return min(64 * 2 ** (level - 1), MAX_STAGE_CHANNELS)


def base_repeats(point: ScalingPoint) -> tuple[int, ...]:
    if point.repeats is not None:
        return point.repeats
    if point.depth_exponents is not None:
        return tuple(repeats_from_exponent(ds) for ds in point.depth_exponents)
    if point.family in ("csp", "yolov4"):
        return tuple(CSP_REPEATS[min(i, len(CSP_REPEATS) - 1)] for i in range(point.stages))
    exponents = LARGE_DEPTH_EXPONENTS + (LARGE_EXTRA_STAGE_EXPONENT,) * point.stages
    return tuple(repeats_from_exponent(ds) for ds in exponents[: point.stages])


def _stage_block(family: str, level: int) -> str:
    if family == "yolov4":
        return "DarknetCSP"
    return "Bottleneck" if family == "csp" and level == 1 else "BottleneckCSP"


def _default_name(point: ScalingPoint) -> str:
    name = f"{point.family}-p{point.stages}"
    if point.depth_multiple != 1.0 or point.width_multiple != 1.0:
        name += f"-d{point.depth_multiple:g}-w{point.width_multiple:g}"
    return name


def compound_scale(point: ScalingPoint) -> ArchitectureSpec:
    """The detector a scaling point describes, with every width and repeat count final."""
    if point.family == "tiny":
        return _tiny(point)
    width = point.width_multiple
    depth = point.depth_multiple
    stages = []
    for level, repeats in zip(range(1, point.stages + 1), base_repeats(point), strict=True):
        block = _stage_block(point.family, level)
        stages.append(
            StageSpec(
                level, scale_width(base_stage_channels(level), width), scale_depth(repeats, depth), block
            )
        )
    neck_base = {lvl: min(base_stage_channels(lvl) // 2, MAX_NECK_CHANNELS) for lvl in point.detection_levels}
    neck_repeats = point.neck_repeats
    if neck_repeats is None:
        neck_repeats = LARGE_NECK_REPEATS if point.family == "large" else CSP_NECK_REPEATS
    neck = NeckSpec(
        spp_channels=scale_width(neck_base[point.stages], width),
        csp_repeats=scale_depth(neck_repeats, depth),
        levels=tuple(
            NeckLevelSpec(lvl, scale_width(base, width), scale_width(2 * base, width))
            for lvl, base in neck_base.items()
        ),
        activation="leaky" if point.family == "yolov4" and point.activation is None else None,
    )
    return ArchitectureSpec(
        name=point.name or _default_name(point),
        family=point.family,
        input_size=point.input_size,
        activation=point.resolved_activation,
        stem_channels=scale_width(STEM_CHANNELS, width),
        stages=tuple(stages),
        neck=neck,
        head=_head(point, LARGE_ANCHORS_PER_LEVEL if point.family == "large" else CSP_ANCHORS_PER_LEVEL),
        depth_multiple=depth,
        width_multiple=width,
    )


def _head(point: ScalingPoint, family_anchors_per_level: int) -> HeadSpec:
    anchors = point.anchors
    if anchors is None:
        per_level = point.anchors_per_level or family_anchors_per_level
        anchors = default_anchors(point.detection_levels, per_level)
    return HeadSpec(point.detection_levels, point.num_classes, anchors)


def _tiny(point: ScalingPoint) -> ArchitectureSpec:
    width = point.width_multiple
    stages = [
        StageSpec(level, scale_width(channels, width), 1, "CSPOSA")
        for level, channels in zip((2, 3, 4), TINY_STAGE_CHANNELS, strict=True)
    ]
    stages.append(StageSpec(5, scale_width(TINY_TOP_CHANNELS, width), 0, "Conv"))
    neck = NeckSpec(
        spp_channels=0,
        csp_repeats=0,
        levels=tuple(
            NeckLevelSpec(lvl, scale_width(ch, width), scale_width(out, width)) for lvl, ch, out in TINY_NECK
        ),
    )
    return ArchitectureSpec(
        name=point.name or ("tiny" if width == 1.0 else f"tiny-w{width:g}"),
        family="tiny",
        input_size=point.input_size,
        activation=point.resolved_activation,
        stem_channels=scale_width(STEM_CHANNELS, width),
        stages=tuple(stages),
        neck=neck,
        head=_head(point, TINY_ANCHORS_PER_LEVEL),
        depth_multiple=point.depth_multiple,
        width_multiple=width,
    )
