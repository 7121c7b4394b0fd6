"""Compound scaling: rounding rules, the spec's worked examples, a grid of points, validation."""

from __future__ import annotations

import pytest
import torch

from scaler import ScalingPoint, SpecError, build_model, compound_scale
from scaler.scaling.rules import repeats_from_exponent, scale_depth, scale_width


@pytest.mark.parametrize(
    ("multiple", "cases"),
    [
        (0.33, {1: 1, 2: 1, 3: 1, 4: 1, 7: 2, 8: 3, 15: 5}),
        (0.5, {3: 2, 5: 2, 7: 4, 15: 8}),  # 2.5 → 2 and 3.5 → 4: banker's rounding
        (0.67, {3: 2, 7: 5, 15: 10}),
        (1.33, {1: 1, 3: 4, 7: 9, 15: 20}),
    ],
)
def test_depth_rounding_examples(multiple, cases):
    assert {n: scale_depth(n, multiple) for n in cases} == cases


def test_width_rounds_up_to_multiples_of_eight():
    assert [scale_width(c, 0.5) for c in (32, 64, 1024)] == [16, 32, 512]
    assert scale_width(1024, 1.25) == 1280
    assert scale_width(128, 0.3) == 40  # 38.4 → 40, never down
    assert scale_width(100, 1.0) == 104


def test_depth_exponents_give_two_to_the_ds_minus_one():
    assert [repeats_from_exponent(ds) for ds in (1, 2, 4, 4, 3)] == [1, 3, 15, 15, 7]
    released = compound_scale(ScalingPoint(stages=5))
    explicit = compound_scale(ScalingPoint(stages=5, depth_exponents=(1, 2, 4, 4, 3)))
    assert released.stages == explicit.stages


def _backbone(architecture):
    return [s.repeats for s in architecture.stages], [s.out_channels for s in architecture.stages]


def _neck_csp2_widths(architecture):
    levels = architecture.neck.levels
    return [level.channels for level in reversed(levels[:-1])] + [level.channels for level in levels[1:]]


def test_worked_example_csp_third_depth_half_width():
    architecture = compound_scale(ScalingPoint(family="csp", depth_multiple=0.33, width_multiple=0.5))
    assert architecture.stages[0].block == "Bottleneck" and architecture.stages[0].out_channels == 32
    assert _backbone(architecture) == ([1, 1, 3, 3, 1], [32, 64, 128, 256, 512])
    assert architecture.neck.spp_channels == 256 and architecture.neck.csp_repeats == 1
    assert _neck_csp2_widths(architecture) == [128, 64, 128, 256]


@pytest.mark.parametrize(
    ("depth", "width", "repeats", "channels", "neck_repeats"),
    [
        (0.5, 0.5, [1, 2, 8, 8, 4], [32, 64, 128, 256, 512], 2),
        (1.33, 1.25, [1, 4, 20, 20, 9], [80, 160, 320, 640, 1280], 4),
        (0.67, 0.75, [1, 2, 10, 10, 5], [48, 96, 192, 384, 768], 2),
    ],
)
def test_worked_examples_p5(depth, width, repeats, channels, neck_repeats):
    architecture = compound_scale(ScalingPoint(depth_multiple=depth, width_multiple=width))
    assert _backbone(architecture) == (repeats, channels)
    assert architecture.neck.csp_repeats == neck_repeats
    if width == 1.25:
        assert architecture.neck.spp_channels == 640


def test_p7_is_p5_plus_two_stages_at_width_one_and_a_quarter():
    p7 = compound_scale(ScalingPoint(stages=7, width_multiple=1.25, input_size=1536))
    assert _backbone(p7) == ([1, 3, 15, 15, 7, 7, 7], [80, 160, 320, 640, 1280, 1280, 1280])
    assert [level.output_channels for level in p7.neck.levels] == [320, 640, 1280, 1280, 1280]
    assert p7.head.strides == (8, 16, 32, 64, 128)


GRID = [
    ScalingPoint(
        family=family, stages=stages, depth_multiple=depth, width_multiple=width, input_size=2**stages * 2
    )
    for family in ("large", "csp")
    for stages in (4, 5, 6, 7, 8)
    for depth, width in ((0.33, 0.125), (0.5, 0.25))
] + [
    ScalingPoint(family="tiny", width_multiple=0.25, input_size=64),
    ScalingPoint(family="yolov4", width_multiple=0.125, depth_multiple=0.33, input_size=64),
    ScalingPoint(stages=6, depth_exponents=(0, 1, 2, 1, 1, 0), width_multiple=0.125, input_size=128),
    ScalingPoint(stages=5, repeats=(1, 1, 2, 2, 1), neck_repeats=1, width_multiple=0.125, activation="silu"),
    ScalingPoint(stages=5, width_multiple=0.125, num_classes=3, anchors_per_level=2, activation="leaky"),
]


@pytest.mark.parametrize(
    "point", GRID, ids=lambda p: f"{p.family}-s{p.stages}-d{p.depth_multiple}-w{p.width_multiple}"
)
def test_grid_points_build_and_predict_every_level(point):
    model = build_model(point).eval()
    levels = point.detection_levels
    assert model.stride.tolist() == [2**level for level in levels]
    size = point.input_size
    with torch.no_grad():
        predictions, raw = model(torch.rand(2, 3, size, size))
    anchors = model.detect.na
    outputs = point.num_classes + 5
    assert [tuple(t.shape) for t in raw] == [
        (2, anchors, size // 2**level, size // 2**level, outputs) for level in levels
    ]
    assert predictions.shape == (2, sum(anchors * (size // 2**level) ** 2 for level in levels), outputs)
    assert torch.isfinite(predictions).all()


def test_activation_is_applied_everywhere():
    model = build_model(ScalingPoint(width_multiple=0.125, activation="silu"))
    kinds = {type(module).__name__ for module in model.modules() if not list(module.children())}
    assert "SiLU" in kinds and "Mish" not in kinds


def test_training_mode_returns_raw_maps_only():
    model = build_model(ScalingPoint(width_multiple=0.125, depth_multiple=0.33, input_size=64)).train()
    raw = model(torch.rand(2, 3, 64, 64))
    assert isinstance(raw, list) and len(raw) == 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"input_size": 650}, "input_size"),
        ({"input_size": 896, "stages": 8}, "input_size"),
        ({"input_size": 0}, "input_size"),
        ({"width_multiple": 0}, "width_multiple"),
        ({"width_multiple": -0.5}, "width_multiple"),
        ({"depth_multiple": 0.0}, "depth_multiple"),
        ({"activation": "gelu"}, "activation"),
        ({"family": "resnet"}, "family"),
        ({"stages": 3}, "stages"),
        ({"stages": 9}, "stages"),
        ({"family": "tiny", "stages": 6}, "stages"),
        ({"family": "yolov4", "stages": 6}, "stages"),
        ({"family": "tiny", "depth_exponents": (1, 1, 1, 1, 1)}, "depth_exponents"),
        ({"depth_exponents": (1, 2, 3)}, "depth_exponents"),
        ({"depth_exponents": (1, 2, 4, 4, -1)}, "depth_exponents[4]"),
        ({"repeats": (1, 2, 3, 4, 5), "depth_exponents": (1, 1, 1, 1, 1)}, "depth_exponents"),
        ({"repeats": (1, 2, 3, 4)}, "repeats"),
        ({"neck_repeats": -1}, "neck_repeats"),
        ({"num_classes": 0}, "num_classes"),
        ({"anchors": ((10, 13, 16, 30),)}, "anchors"),
        ({"anchors": ((10, 13), (16, 30, 33, 23), (30, 61))}, "anchors"),
        ({"anchors": ((10, -13), (16, 30), (30, 61))}, "anchors"),
        ({"anchors_per_level": 0}, "anchors_per_level"),
    ],
)
def test_invalid_points_name_the_field(kwargs, field):
    with pytest.raises(SpecError) as error:
        ScalingPoint(**kwargs)
    assert error.value.field == field
    assert field.split("[")[0] in str(error.value)


def test_input_size_error_suggests_valid_sizes():
    with pytest.raises(SpecError, match="use 640 or 672"):
        ScalingPoint(input_size=650)
