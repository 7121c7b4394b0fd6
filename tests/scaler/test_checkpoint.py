"""Reference checkpoints load without the reference code base."""

from __future__ import annotations

import copyreg
import os
import pickle
import re
import sys
import types

import numpy
import pytest
import torch
from torch import nn

from scaler import ScalingPoint, build_model
from scaler.checkpoint import load_weights, read_state_dict
from tests.malicious_pickles import Attribute, Call, writes


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


def _assert_refused_before_running(path, marker, refused_global):
    with pytest.raises(pickle.UnpicklingError, match=re.escape(refused_global)):
        read_state_dict(path)
    assert not marker.exists(), "the checkpoint's code ran while it was being loaded"


@pytest.mark.parametrize("file_format", ["zip", "legacy", "plain pickle"])
def test_a_checkpoint_that_calls_exec_is_refused_before_its_code_runs(tmp_path, file_format):
    marker, path = tmp_path / "pwned", tmp_path / "evil.pt"
    payload = {"epoch": -1, "model": Call(exec, writes(marker)), "optimizer": None}
    if file_format == "plain pickle":
        path.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path, _use_new_zipfile_serialization=file_format == "zip")
    _assert_refused_before_running(path, marker, "builtins.exec")


def test_a_checkpoint_that_calls_os_system_is_refused(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "evil.pt"
    torch.save({"model": Call(os.system, f"touch {marker}")}, path)
    _assert_refused_before_running(path, marker, f"{os.system.__module__}.system")


def test_a_getattr_chain_to_os_system_is_refused(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "evil.pt"
    system = Attribute(Call(__import__, "os"), "system")  # getattr(__import__("os"), "system")
    torch.save({"model": Call(system, f"touch {marker}")}, path)
    _assert_refused_before_running(path, marker, "builtins.getattr")


def test_a_checkpoint_that_calls_numpy_functions_is_refused(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "evil.pt"
    torch.save({"model": Call(numpy.savetxt, str(marker), [1.0])}, path)
    _assert_refused_before_running(path, marker, "numpy.savetxt")


def test_a_copyreg_reconstructed_object_of_an_arbitrary_type_is_refused(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "evil.pt"
    # copyreg._reconstructor(cls, base, state) calls base(state): here str(...), a harmless stand-in
    # for any type whose constructor acts
    torch.save({"model": Call(copyreg._reconstructor, object, str, "x")}, path)
    _assert_refused_before_running(path, marker, "copyreg._reconstructor")


def _fake_released_modules():
    """The reference code base, importable only while saving: models.yolo.Model and Detect,
    models.common.Conv and the CSP blocks, mish_cuda.MishCuda (the Mish the released models used)."""
    names = ("models", "models.yolo", "models.common", "mish_cuda")
    modules = {name: types.ModuleType(name) for name in names}
    classes = {"Model": ("models.yolo", "Model"), "Detect": ("models.yolo", "Detect")}
    classes["Mish"] = ("mish_cuda", "MishCuda")
    for name in ("Conv", "Bottleneck", "BottleneckCSP", "BottleneckCSP2", "SPPCSP", "Concat"):
        classes[name] = ("models.common", name)
    renamed = {}
    for ours, (module_name, name) in classes.items():
        renamed[ours] = type(name, (nn.Module,), {"__module__": module_name, "__qualname__": name})
        setattr(modules[module_name], name, renamed[ours])
    return modules, renamed


def test_a_released_checkpoint_loads_without_the_reference_code(tmp_path, monkeypatch):
    """The released format: the whole reference Model pickled in half precision, a numpy
    best_fitness, no optimizer; every class of the reference code base absent when loading."""
    trained = build_model(_tiny_point())
    with torch.no_grad():
        for parameter in trained.parameters():
            parameter.add_(torch.randn_like(parameter))
    expected = {key: value.half().float() for key, value in trained.state_dict().items()}
    modules, renamed = _fake_released_modules()
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    for module in trained.model.modules():
        module.__class__ = renamed.get(type(module).__name__, type(module))
    reference_model = renamed["Model"]()
    reference_model.model = trained.model
    reference_model.save = sorted(trained.keep)
    reference_model.yaml = {"nc": 80, "depth_multiple": 0.33, "width_multiple": 0.125, "anchors": [[1, 2]]}
    reference_model.names = ["person", "bicycle"]
    reference_model.stride = torch.tensor([8.0, 16.0, 32.0])  # a plain attribute, as the reference's
    assert {type(module).__module__.split(".")[0] for module in reference_model.modules()} == {
        "models",
        "mish_cuda",
        "torch",
    }
    released = {
        "epoch": -1,
        "best_fitness": numpy.array([0.4123]),
        "training_results": None,
        "model": reference_model.half(),
        "optimizer": None,
    }
    path = tmp_path / "yolov4-released.pt"
    torch.save(released, path)
    for name in modules:
        monkeypatch.delitem(sys.modules, name)

    fresh = load_weights(build_model(_tiny_point()), path)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, expected[key]), key
