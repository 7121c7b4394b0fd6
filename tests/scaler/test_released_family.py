"""The released networks come out exactly: parameters, per-layer counts, anchors, strides, head."""

from __future__ import annotations

import math

import pytest
import torch

from scaler import build_model, count_parameters, preset_architecture
from tests.scaler import reference_counts as reference

# Spec "Calibration: YOLOv4-P5 per-layer parameters (nc=80)"
P5_LAYER_PARAMS = {
    0: 928,
    1: 18560,
    2: 19904,
    3: 73984,
    4: 161152,
    5: 295424,
    6: 2614016,
    7: 1180672,
    8: 10438144,
    9: 4720640,
    10: 20728832,
    11: 7610368,
    12: 131584,
    14: 131584,
    16: 2298880,
    17: 33024,
    19: 33024,
    21: 576000,
    22: 295424,
    23: 295424,
    25: 2298880,
    26: 1180672,
    27: 1180672,
    29: 9185280,
    30: 4720640,
    31: 610300,
}


@pytest.fixture(scope="module")
def p5():
    return build_model("yolov4-p5")


def test_p5_has_exactly_the_released_parameter_count(p5):
    assert count_parameters(p5) == 70_834_012


def test_p5_per_layer_counts_match_the_calibration_list(p5):
    assert len(p5.model) == 32
    for index, expected in P5_LAYER_PARAMS.items():
        assert count_parameters(p5.model[index]) == expected, f"layer {index}"
    structural = set(range(32)) - set(P5_LAYER_PARAMS)
    assert all(count_parameters(p5.model[index]) == 0 for index in structural)


@pytest.mark.parametrize(
    ("name", "expected_count", "modules", "strides"),
    [
        ("yolov4-csp", reference.yolov4_csp, 32, [8, 16, 32]),
        ("yolov4-p6", lambda: reference.large(6, 1.0, [1, 3, 15, 15, 7, 7], 3), 43, [8, 16, 32, 64]),
        ("yolov4-p7", lambda: reference.large(7, 1.25, [1, 3, 15, 15, 7, 7, 7], 3), 54, [8, 16, 32, 64, 128]),
        ("yolov4-tiny", reference.darknet_tiny, 22, [16, 32]),
        ("yolov4", reference.darknet_yolov4, 54, [8, 16, 32]),
    ],
)
def test_family_members_match_independent_counts(name, expected_count, modules, strides):
    model = build_model(name)
    assert count_parameters(model) == expected_count()
    assert len(model.model) == modules
    assert model.stride.tolist() == strides


def test_csp_matches_the_darknet_cfg_count_plus_the_concat_batch_norms():
    # darknet yolov4-csp.cfg has 52,921,437 parameters; the PyTorch CSP2/SPPCSP blocks add a BN over
    # the already-normalised half: 2·Σc_(CSP2) + 2·c_(SPPCSP) parameters (spec §1.4).
    architecture = preset_architecture("yolov4-csp")
    levels = architecture.neck.levels
    neck_hidden = sum(level.channels for level in levels[:-1]) + sum(level.channels for level in levels[1:])
    extra = 2 * neck_hidden + 2 * architecture.neck.spp_channels
    assert extra == 3_328
    assert count_parameters(build_model("yolov4-csp")) == 52_921_437 + extra


@pytest.mark.parametrize(
    ("name", "level", "expected"),
    [
        ("yolov4-p5", 0, [[1.625, 2.125], [3.875, 3.125], [3.0, 6.375], [7.625, 5.625]]),
        ("yolov4-csp", 2, [[4.4375, 3.4375], [6.0, 7.59375], [14.34375, 12.53125]]),
        ("yolov4-p6", 3, [[5.0625, 7.046875], [8.515625, 5.578125], [9.625, 9.65625], [16, 16]]),
        ("yolov4-p7", 4, [[6.34375, 3.0703125], [3.7265625, 6.3125], [8.359375, 7.09375], [11, 11]]),
    ],
)
def test_anchors_are_stored_in_grid_units(name, level, expected):
    head = build_model(name).detect
    assert head.anchors[level].tolist() == expected
    assert torch.allclose(head.anchor_grid[level].view(-1, 2), head.anchors[level] * head.stride[level])


@pytest.mark.parametrize(("name", "outputs"), [("yolov4-csp", 255), ("yolov4-p5", 340), ("yolov4-p7", 340)])
def test_detect_output_channels(name, outputs):
    assert all(conv.out_channels == outputs for conv in build_model(name).detect.m)


def test_detect_bias_priors():
    torch.manual_seed(0)
    model = build_model("yolov4-p6")
    for conv, stride in zip(model.detect.m, [8, 16, 32, 64], strict=True):
        bias = conv.bias.view(4, -1)
        fan_in_bound = 1 / math.sqrt(conv.in_channels)  # PyTorch's default bias init, before the prior
        objectness_prior = math.log(8 / (640 / stride) ** 2)
        class_prior = math.log(0.6 / (80 - 0.99))
        assert torch.all((bias[:, 4] - objectness_prior).abs() <= fan_in_bound + 1e-6)
        assert torch.all((bias[:, 5:] - class_prior).abs() <= fan_in_bound + 1e-6)


def test_batch_norm_uses_reference_eps_and_momentum(p5):
    norms = [m for m in p5.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(m.eps == 1e-3 and m.momentum == 0.03 for m in norms)


def test_neck_topology_follows_the_released_p6_yaml():
    spec = build_model("yolov4-p6").spec
    assert spec.layers[-1].source == (29, 33, 37, 41)
    assert spec.layers[16].source == 10 and spec.layers[21].source == 8 and spec.layers[26].source == 6
    assert spec.layers[38].args.out_channels == 512  # the P6 downsample conv is 512 wide
    assert [spec.layers[i].block for i in (13, 18, 23, 28)] == ["SPPCSP"] + ["BottleneckCSP2"] * 3


def test_tiny_follows_the_darknet_cfg():
    model = build_model("yolov4-tiny")
    spec = model.spec
    assert spec.activation == "leaky"
    assert spec.layers[19].source == (-1, 11)  # darknet route -1, 23 → 128 + 256 = 384 channels
    assert model.out_channels[19] == 384
    assert model.detect.anchor_grid.view(2, 3, 2).tolist() == [
        [[23, 27], [37, 58], [81, 82]],
        [[81, 82], [135, 169], [344, 319]],
    ]
    with torch.no_grad():
        _, raw = model.eval()(torch.zeros(1, 3, 416, 416))
    assert [tuple(level.shape) for level in raw] == [(1, 3, 26, 26, 85), (1, 3, 13, 13, 85)]


def test_original_yolov4_matches_the_darknet_cfg():
    model = build_model("yolov4")
    assert count_parameters(model) == 64_363_101  # darknet's count for yolov4.cfg
    kinds = [type(m).__name__ for m in model.modules()]
    assert kinds.count("Mish") == 72 and kinds.count("LeakyReLU") == 35  # spec §4: 72 mish + 35 leaky
    assert model.detect.anchor_grid.view(-1).tolist()[:6] == [12, 16, 19, 36, 40, 28]
    assert [type(model.model[i]).__name__ for i in (2, 14)] == ["DarknetCSP", "SPP"]
    assert model.out_channels[14] == 2048
