"""Target devices: what a registered device may say, the presets, and how a job names one."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from search_spaces import parse_job_spec
from search_spaces.devices import TargetDevice, is_in_process, preset_devices


def test_the_presets_load_and_each_carries_its_own_ray_resource() -> None:
    presets = preset_devices()
    assert {
        "cpu-1thread",
        "cpu-onnxruntime",
        "cpu-onnxruntime-int8",
        "cuda-fp16",
        "cuda-tensorrt-fp16",
    } <= presets.keys()
    for name, device in presets.items():
        assert device.name == name and device.resource == f"device:{name}"
    onnx = presets["cpu-onnxruntime"]
    assert (onnx.kind, onnx.runtime, onnx.threads, onnx.torch_device) == ("cpu", "onnxruntime", 1, "cpu")
    assert presets["cuda-fp16"].torch_device == "cuda"
    int8 = presets["cpu-onnxruntime-int8"]
    assert (int8.kind, int8.runtime, int8.precision, int8.threads) == ("cpu", "onnxruntime", "int8", 1)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"name": "cpu", "kind": "cpu"}, "trial's own device"),  # cpu/cuda/cuda:N are not registry names
        ({"name": "cuda:1", "kind": "cuda"}, "pattern"),
        ({"name": "T4 box", "kind": "cuda"}, "pattern"),  # it becomes a Ray resource and a URL segment
        ({"name": "../etc", "kind": "cpu"}, "pattern"),
        ({"name": "x" * 64, "kind": "cpu"}, "at most 63"),
        ({"name": "box", "kind": "tpu"}, "'cpu' or 'cuda'"),
        ({"name": "box", "kind": "cpu", "runtime": "tensorrt"}, "tensorrt runs on a cuda device"),
        ({"name": "box", "kind": "cpu", "precision": "fp16"}, "fp16 latency needs a cuda device"),
        ({"name": "box", "kind": "cpu", "precision": "int4"}, "'fp32', 'fp16' or 'int8'"),
        # int8 is a statically quantised ONNX graph in ONNX Runtime on a CPU, nowhere else
        ({"name": "box", "kind": "cpu", "runtime": "torch", "precision": "int8"}, "precision: int8"),
        ({"name": "box", "kind": "cpu", "runtime": "torch-compile", "precision": "int8"}, "precision: int8"),
        ({"name": "box", "kind": "cpu", "runtime": "tensorrt", "precision": "int8"}, "precision: int8"),
        ({"name": "box", "kind": "cuda", "runtime": "onnxruntime", "precision": "int8"}, "precision: int8"),
        ({"name": "box", "kind": "cuda", "runtime": "tensorrt", "precision": "int8"}, "precision: int8"),
        ({"name": "box", "kind": "cuda", "threads": 4}, "only a cpu device"),
        ({"name": "box", "kind": "cuda", "runtime": "onnxruntime", "precision": "fp16"}, "torch-compile"),
        ({"name": "box", "kind": "cpu", "batch": 0}, "greater than or equal to 1"),
        ({"name": "box", "kind": "cpu", "description": "a\x1b[2J"}, "pattern"),
        ({"name": "box", "kind": "cpu", "colour": "red"}, "Extra inputs"),
    ],
)
def test_a_device_that_cannot_be_measured_as_described_is_refused(values: dict, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        TargetDevice(**values)


def test_a_job_names_its_own_device_or_a_registered_one() -> None:
    assert is_in_process("cpu") and is_in_process("cuda") and is_in_process("cuda:3")
    assert not is_in_process("cpu-onnxruntime") and not is_in_process("cudax")
    base = {"name": "j", "dataset": "/data"}
    own = parse_job_spec({**base, "objectives": {"latency": {"device": "cpu", "threads": 2}}})
    assert not own.objectives.latency.registered and own.objectives.latency.threads == 2
    named = parse_job_spec({**base, "objectives": {"latency": {"device": "cuda-fp16"}}})
    latency = named.objectives.latency
    # a registered GPU is timed on the node that holds it: the trial does not need a GPU for it
    assert latency.registered and not latency.on_gpu and named.budget.gpus_per_trial == 0
    # a stored spec, dumped and read back, stays valid (the device's settings stay at their defaults)
    assert parse_job_spec(named.model_dump(mode="json")) == named
