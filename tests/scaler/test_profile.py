"""Profiling: counted FLOPs agree with the paper's layer formulas (Tables 1–2) and with
per-convolution arithmetic; memory and the layer table are consistent."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from scaler import ScalingPoint, build_model, count_flops, profile_model
from scaler.blocks import Bottleneck, BottleneckCSP
from scaler.profile import peak_activation_bytes

WIDTH, HEIGHT = 16, 16


def conv_macs(module: nn.Module, channels: int) -> float:
    """Multiply-accumulates of the convolutions of ``module`` on a (channels, 16, 16) input."""
    gflops, _ = count_flops(module, WIDTH, in_channels=channels)
    return round(gflops * 1e9) / 2


@pytest.mark.parametrize(("b", "k"), [(64, 1), (64, 3), (128, 2)])
def test_dark_layer_flops_are_5_whkb2(b, k):
    """Table 1: k Darknet residual layers {1×1 b→b/2, 3×3 b/2→b} cost 5·w·h·k·b² MACs."""
    layers = nn.Sequential(*(Bottleneck(b, b, expansion=0.5) for _ in range(k)))
    assert conv_macs(layers, b) == 5 * WIDTH * HEIGHT * k * b * b


@pytest.mark.parametrize("b", [64, 128])
def test_csp_dark_layer_costs_5k_over_2_whb2_per_layer(b):
    """Table 2: in a CSP stage the k Dark layers run on half the channels with expansion 1 and cost
    whb²·5k/2; the transition convs add a constant. Ours (released PyTorch block) uses
    cv1, cv2 (b→b/2), cv3 (b/2→b/2) and cv4 (b→b): 9/4·whb², where the paper's split-based
    transition costs 3/4·whb²."""
    per_layer = [conv_macs(BottleneckCSP(b, b, repeats=k), b) for k in (1, 2, 3)]
    whb2 = WIDTH * HEIGHT * b * b
    assert per_layer[1] - per_layer[0] == per_layer[2] - per_layer[1] == 5 / 2 * whb2
    assert per_layer[0] == (9 / 4 + 5 / 2) * whb2


def test_csp_halves_the_dark_layer_cost_for_many_layers():
    """Table 2's claim: CSP-izing Darknet saves ~50% of the FLOPs as k grows."""
    b, k = 64, 16
    dark = conv_macs(nn.Sequential(*(Bottleneck(b, b) for _ in range(k))), b)
    csp = conv_macs(BottleneckCSP(b, b, repeats=k), b)
    assert 0.5 <= csp / dark <= 0.55


def test_scaling_factors_change_flops_as_table_1_says():
    """Input size ×α → ×α²; number of layers ×β → ×β; channels ×γ → ×γ² (Dark layers)."""
    base = conv_macs(nn.Sequential(*(Bottleneck(64, 64) for _ in range(2))), 64)
    deeper = conv_macs(nn.Sequential(*(Bottleneck(64, 64) for _ in range(4))), 64)
    wider = conv_macs(nn.Sequential(*(Bottleneck(128, 128) for _ in range(2))), 128)
    assert deeper == 2 * base and wider == 4 * base
    model = build_model(ScalingPoint(width_multiple=0.25, depth_multiple=0.33))
    small, _ = count_flops(model, 128)
    large, _ = count_flops(model, 256)
    assert large == pytest.approx(4 * small, rel=1e-9)


def test_conv_flops_equal_the_sum_over_convolutions():
    model = build_model(ScalingPoint(family="csp", width_multiple=0.25, depth_multiple=0.33)).eval()
    total = 0

    def hook(module: nn.Conv2d, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        kernel = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total += 2 * kernel * output.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, 160, 160))
    for handle in handles:
        handle.remove()
    conv_gflops, _ = count_flops(model, 160)
    assert conv_gflops == pytest.approx(total / 1e9, rel=1e-12)


def test_released_tiny_has_the_darknet_flops():
    # darknet reports 6.9 BFLOPs for yolov4-tiny at 416×416
    profile = profile_model(build_model("yolov4-tiny"))
    assert profile.conv_gflops == pytest.approx(6.91, abs=0.01)


def test_profile_is_consistent():
    model = build_model(ScalingPoint(width_multiple=0.25, depth_multiple=0.33, input_size=256))
    profile = profile_model(model)
    assert profile.params == sum(layer.params for layer in profile.layers)
    assert profile.strides == (8, 16, 32) and profile.input_size == 256
    image_bytes = 3 * 256 * 256 * 4
    first_layer = model.out_channels[0] * 256 * 256 * 4
    assert profile.peak_activation_mib * 2**20 > image_bytes + first_layer
    assert peak_activation_bytes(model, 512) > 3.5 * peak_activation_bytes(model, 256)
    assert peak_activation_bytes(model, 256, batch=2) > 1.9 * peak_activation_bytes(model, 256)
