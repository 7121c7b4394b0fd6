"""Deployment form: fused, channels_last, fast Mish, ONNX — same outputs as the eval model."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from torch import nn

from scaler import PRESETS, ScalingPoint, build_model, deploy, fuse
from scaler.blocks.activations import fast_mish
from scaler.onnx_export import export_onnx


def _randomise_batch_norms(model: nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.rand(n, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(n, generator=generator) - 0.5)


def _small(name: str) -> ScalingPoint:
    point = PRESETS[name]
    size = 2**point.stages * 2
    return ScalingPoint(
        family=point.family, stages=point.stages, depth_multiple=0.33, width_multiple=0.125, input_size=size
    )


def _relative_error(expected: torch.Tensor, actual: torch.Tensor) -> float:
    return float(((expected - actual).abs() / (expected.abs() + 1e-3)).max())


@pytest.mark.parametrize("name", list(PRESETS))
def test_deploy_form_gives_the_same_predictions(name):
    point = _small(name)
    model = build_model(point)
    _randomise_batch_norms(model)
    model.eval()
    image = torch.rand(2, 3, point.input_size, point.input_size)
    with torch.no_grad():
        expected, _ = model(image)
        deployed = deploy(model)
        actual, _ = deployed(image.contiguous(memory_format=torch.channels_last))
    assert _relative_error(expected, actual) < 1e-4
    remaining = [m for m in deployed.modules() if isinstance(m, nn.BatchNorm2d)]
    if point.family == "tiny":
        assert remaining == []
    assert len(remaining) < sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) / 5
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()), "deploy must not touch the original"


def test_fuse_folds_every_conv_batch_norm_in_place():
    model = build_model(_small("yolov4-p5"))
    fuse(model)
    conv_blocks = [m for m in model.modules() if type(m).__name__ == "Conv"]
    assert conv_blocks and all(isinstance(m.bn, nn.Identity) and m.conv.bias is not None for m in conv_blocks)


def test_deploy_uses_channels_last_and_fast_mish():
    deployed = deploy(build_model(_small("yolov4-p5")))
    assert deployed.model[0].conv.weight.is_contiguous(memory_format=torch.channels_last)
    names = {type(m).__name__ for m in deployed.modules()}
    assert "FastMish" in names and "Mish" not in names


def test_fast_mish_equals_mish_over_the_float_range():
    x = torch.cat([torch.linspace(-100, 100, 200_001), torch.tensor([-1e30, 1e30, 0.0])])
    assert torch.allclose(fast_mish(x), nn.functional.mish(x), rtol=1e-5, atol=1e-6)
    assert torch.isfinite(fast_mish(x)).all()


def test_fast_mish_in_half_precision_stays_finite_and_equals_mish():
    """An fp16 deployment (cuda-fp16) runs Mish in half precision: e^x (e^x + 2) would overflow
    float16 from x ≈ 5.5 and turn every larger activation into NaN."""
    x = torch.cat([torch.linspace(-60, 60, 12_001), torch.tensor([-65504.0, 65504.0, 0.0])])
    half = fast_mish(x.half())
    assert torch.isfinite(half).all()
    assert torch.allclose(half.float(), nn.functional.mish(x.half().float()), rtol=2e-3, atol=2e-3)


def test_the_fused_mish_kernel_equals_mish_and_serves_deploy_unless_switched_off(monkeypatch):
    from scaler.blocks.activations import fast_mish, fused_mish_kernel, mish_kernel

    x = torch.linspace(-30.0, 30.0, 4096).view(4, 4, 16, 16)
    kernel = fused_mish_kernel()  # compiled by torch.compile (eager only where compiling fails)
    torch.testing.assert_close(kernel(x), torch.nn.functional.mish(x), rtol=1e-5, atol=1e-6)
    monkeypatch.setenv("SCALER_FUSED_MISH", "1")
    assert mish_kernel() is kernel
    monkeypatch.setenv("SCALER_FUSED_MISH", "0")
    assert mish_kernel() is fast_mish


def test_onnx_export_is_valid_and_matches_torch(tmp_path):
    point = _small("yolov4-p5")
    model = build_model(point)
    _randomise_batch_norms(model)
    path = export_onnx(model, tmp_path / "model.onnx", point.input_size)
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ["images"]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    image = torch.rand(1, 3, point.input_size, point.input_size)
    (onnx_predictions,) = session.run(None, {"images": image.numpy()})
    with torch.no_grad():
        expected, _ = model.eval()(image)
    np.testing.assert_allclose(onnx_predictions, expected.numpy(), rtol=1e-3, atol=1e-3)


@pytest.mark.slow
def test_compiled_deploy_form_gives_the_same_predictions():
    point = _small("yolov4-p5")
    model = build_model(point)
    _randomise_batch_norms(model, seed=1)
    model.eval()
    image = torch.rand(1, 3, point.input_size, point.input_size)
    compiled = deploy(model, compile=True)
    with torch.inference_mode():
        expected, _ = model(image)
        actual, _ = compiled(image.contiguous(memory_format=torch.channels_last))
    assert _relative_error(expected, actual) < 1e-3


def test_onnx_export_with_a_dynamic_batch(tmp_path):
    point = _small("yolov4-tiny")
    model = build_model(point).eval()
    path = export_onnx(model, tmp_path / "tiny.onnx", point.input_size, dynamic_batch=True)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    image = torch.rand(3, 3, point.input_size, point.input_size)
    (predictions,) = session.run(None, {"images": image.numpy()})
    with torch.no_grad():
        expected, _ = model(image)
    np.testing.assert_allclose(predictions, expected.numpy(), rtol=1e-3, atol=1e-3)
