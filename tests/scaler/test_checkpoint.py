"""Reference checkpoints load without the reference code base."""

from __future__ import annotations

import sys
import types

import torch
from torch import nn

from scaler import ScalingPoint, build_model
from scaler.checkpoint import load_weights, read_state_dict


def _tiny_point():
    return ScalingPoint(depth_multiple=0.33, width_multiple=0.125, input_size=64)


def _fake_reference_modules():
    """Classes named like the reference code base (models.yolo.Model, models.common.Conv)."""
    yolo, common = types.ModuleType("models.yolo"), types.ModuleType("models.common")
    model_cls = type("Model", (nn.Module,), {"__module__": "models.yolo"})
    conv_cls = type("Conv", (nn.Module,), {"__module__": "models.common"})
    yolo.Model, common.Conv = model_cls, conv_cls
    return {"models": types.ModuleType("models"), "models.yolo": yolo, "models.common": common}


def test_reference_checkpoint_with_pickled_model_objects_loads(tmp_path, monkeypatch):
    trained = build_model(_tiny_point())
    with torch.no_grad():
        for parameter in trained.parameters():
            parameter.add_(torch.randn_like(parameter))
    fake = _fake_reference_modules()
    for name, module in fake.items():
        monkeypatch.setitem(sys.modules, name, module)
    reference_model = fake["models.yolo"].Model()
    reference_model.model = trained.model
    for module in trained.model.modules():
        if type(module).__name__ == "Conv":
            module.__class__ = fake["models.common"].Conv  # pickled under the reference's class name
    path = tmp_path / "yolov4-ref.pt"
    torch.save({"epoch": 299, "model": reference_model.half(), "optimizer": None}, path)
    for name in fake:
        monkeypatch.delitem(sys.modules, name)  # the reference code is not importable when loading

    fresh = build_model(_tiny_point())
    load_weights(fresh, path)
    expected = {k: v.float() for k, v in reference_model.state_dict().items()}
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_plain_state_dict_round_trip(tmp_path):
    model = build_model(_tiny_point())
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    assert read_state_dict(path).keys() == model.state_dict().keys()
    load_weights(build_model(_tiny_point()), path)
