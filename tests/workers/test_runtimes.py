"""The runtimes a target device names, as a device's node times them (``workers.devices``): int8
in ONNX Runtime times a statically quantised graph and records it; torch-compile times the
compiled network and records it; the latency cache never hands one precision's timing to another."""

from __future__ import annotations

from pathlib import Path

import numpy
import onnx
import onnxruntime
import pytest

from scaler import Detector, NetworkSpec, ScalingPoint, compound_scale
from scaler.onnx_export import export_onnx
from search_spaces.devices import TargetDevice, preset_devices
from workers.devices import time_as_device
from workers.latency_cache import measurement_key
from workers.runtimes import quantise_int8
from workers.trial import LatencyTarget

SIZE = 64


@pytest.fixture(scope="module")
def tiny_network() -> NetworkSpec:
    """The tiny family at its narrowest: a few hundred ONNX nodes, so quantising takes seconds."""
    return compound_scale(
        ScalingPoint(family="tiny", width_multiple=0.125, input_size=SIZE, num_classes=2)
    ).to_network()


def _session(path: Path) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_int8_quantises_the_exported_graph_to_integer_weights_that_onnxruntime_runs(
    tiny_network: NetworkSpec, tmp_path: Path
) -> None:
    exported = export_onnx(Detector(tiny_network).eval(), tmp_path / "model.onnx", SIZE)
    quantised = quantise_int8(exported, tmp_path / "model.int8.onnx", (1, 3, SIZE, SIZE))
    graph = onnx.load(str(quantised)).graph
    operators = {node.op_type for node in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= operators
    convolutions = [node for node in graph.node if node.op_type == "Conv"]
    weights = {initialiser.name: initialiser for initialiser in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    for convolution in convolutions:  # each convolution reads int8 weights through a DequantizeLinear
        dequantise = producers[convolution.input[1]]
        assert dequantise.op_type == "DequantizeLinear"
        assert weights[dequantise.input[0]].data_type == onnx.TensorProto.INT8
    image = {"images": numpy.random.default_rng(1).random((1, 3, SIZE, SIZE), dtype=numpy.float32)}
    (expected,) = _session(exported).run(["predictions"], image)
    (got,) = _session(quantised).run(["predictions"], image)
    assert got.shape == expected.shape and got.dtype == numpy.float32


def test_an_int8_device_times_the_quantised_graph_in_onnxruntime_and_records_it(
    tiny_network: NetworkSpec,
) -> None:
    device = preset_devices()["cpu-onnxruntime-int8"]
    stats = time_as_device(device, tiny_network, SIZE, runs=30, rounds=1)
    assert (stats.precision, stats.runtime, stats.target) == ("int8", "onnxruntime", "cpu-onnxruntime-int8")
    assert stats.threads == 1 and stats.device == "cpu" and stats.input_size == SIZE
    assert stats.estimate_ms > 0 and len(stats.round_p50_ms) == 1
    assert stats.to_dict()["precision"] == "int8"  # as the trial's record and the cache keep it


@pytest.mark.slow  # torch.compile generates and builds C++ kernels: minutes on a busy 2-core VM
def test_a_torch_compile_device_times_the_compiled_network_and_records_it(tiny_network: NetworkSpec) -> None:
    device = TargetDevice(name="cpu-compiled", kind="cpu", runtime="torch-compile", threads=1)
    stats = time_as_device(device, tiny_network, SIZE, runs=30, rounds=1)
    assert (stats.runtime, stats.precision, stats.target) == ("torch-compile", "fp32", "cpu-compiled")
    assert stats.threads == 1 and stats.estimate_ms > 0


def test_the_latency_cache_keeps_each_precision_apart(tiny_network: NetworkSpec) -> None:
    presets = preset_devices()

    def key(device: TargetDevice) -> str:
        return measurement_key(
            tiny_network, SIZE, LatencyTarget(target_device=device.model_dump(mode="json")), False
        )

    fp32, int8 = presets["cpu-onnxruntime"], presets["cpu-onnxruntime-int8"]
    same_but_int8 = fp32.model_copy(update={"precision": "int8"})
    assert key(fp32) != key(same_but_int8)  # the device's name aside, precision alone tells them apart
    assert key(fp32) != key(int8) and key(int8) == key(int8)
    # the trial's own device too
    own = [LatencyTarget(device="cpu", precision=precision) for precision in ("fp32", "fp16")]
    assert len({measurement_key(tiny_network, SIZE, target, False) for target in own}) == 2


def test_a_runtime_that_cannot_run_here_is_refused_before_the_export(
    tiny_network: NetworkSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TensorRT off CUDA (or not installed) and ONNX Runtime without a CUDA provider say why at
    once, without exporting the graph first."""
    import torch

    import workers.runtimes
    from workers.runtimes import RuntimeUnavailableError, runner

    def no_export(*args: object, **options: object) -> None:
        raise AssertionError("exported before the runtime was checked")

    monkeypatch.setattr(workers.runtimes, "export_onnx", no_export)
    model, image = Detector(tiny_network).eval(), torch.zeros(1, 3, SIZE, SIZE)
    with pytest.raises(RuntimeUnavailableError, match="TensorRT"), runner("tensorrt", model, image, 1):
        pass
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(RuntimeUnavailableError, match="CUDAExecutionProvider"):
            workers.runtimes.check_available("onnxruntime", torch.device("cuda"))
