"""The runtimes a network is timed in (``search_spaces.devices.Runtime``): each gives a callable
that runs one batch through the network in its deployment form and returns the predictions, so
that ``workers.latency`` times every runtime the same way (warm-up, rounds of timed runs).

- ``torch``: eager PyTorch (BN folded, fused Mish, channels_last).
- ``torch-compile``: the same under ``torch.compile`` (compiled during the warm-up).
- ``onnxruntime``: the exported ONNX graph (``scaler.onnx_export``) in ONNX Runtime, the CPU
  execution provider on a CPU, the CUDA one on a GPU; the thread count is the session's. At
  ``int8`` (CPU only: ``search_spaces.devices``) the graph is first quantised statically
  (``quantise_int8``) and the quantised graph is timed: its **latency**, not its accuracy (the
  calibration is a random image of the network's input shape; integer kernels take as long
  whatever the values, so the ranges it finds do not change the time).
- ``tensorrt``: an engine built from the same ONNX graph (fp16 when asked), where TensorRT is
  importable; elsewhere the measurement fails with ``RuntimeUnavailableError``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from scaler import Detector, deploy
from scaler.onnx_export import export_onnx

RUNTIMES = ("torch", "torch-compile", "onnxruntime", "tensorrt")
CALIBRATION_IMAGES = 1  # min-max ranges from one image: enough for a graph timed, not judged

Run = Callable[[], torch.Tensor]


class RuntimeUnavailableError(RuntimeError):
    """The runtime cannot run here (not installed, or no provider for the device)."""


@contextlib.contextmanager
def runner(
    runtime: str, model: Detector, image: torch.Tensor, threads: int | None, precision: str = "fp32"
) -> Iterator[Run]:
    """A callable that runs ``image`` through ``model`` in ``runtime`` and returns the raw
    predictions (batch, N, classes + 5) as a float tensor; resources it holds are freed on exit.
    ``precision`` int8 quantises the ONNX graph (onnxruntime on a CPU); fp16 is ``image``'s dtype."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime: must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if precision == "int8" and (runtime != "onnxruntime" or image.device.type != "cpu"):
        raise ValueError("precision: int8 is measured with the onnxruntime runtime on a cpu device")
    if runtime in ("torch", "torch-compile"):
        network = deploy(model, fast_activations=True).to(image.device, image.dtype)
        if runtime == "torch-compile":
            network = torch.compile(network)
        yield lambda: network(image)[0]
        return
    check_available(runtime, image.device)  # before the export it would waste
    with tempfile.TemporaryDirectory(prefix="scaler-runtime-") as folder:
        path = export_onnx(model, Path(folder) / "model.onnx", image.shape[-1], batch=image.shape[0])
        if precision == "int8":
            path = quantise_int8(path, Path(folder) / "model.int8.onnx", tuple(image.shape))
        if runtime == "onnxruntime":
            yield onnxruntime_run(path, image, threads)
        else:
            yield _tensorrt(path, image)


def quantise_int8(
    source: Path,
    target: Path,
    input_shape: tuple[int, ...],
    *,
    quant_format: str = "QDQ",
    per_channel: bool = True,
) -> Path:
    """``source`` (an exported graph) statically quantised to int8 at ``target``: weights int8 per
    output channel, activations uint8 with min-max ranges from a random image of ``input_shape``
    (``quant_format`` and ``per_channel``: the choices ``bench/model_latency.py --int8`` compares).

    QDQ format (QuantizeLinear/DequantizeLinear pairs around the float operators), per-channel
    weights: ONNX Runtime's CPU provider fuses each DQ → Conv → Q unit into the same integer kernel
    (QLinearConv) that the QOperator format names outright, and on this project's 2-vCPU Xeon the
    four choices timed alike, within the machine's noise (``bench/model_latency.py --int8
    --int8-formats``, docs/benchmarks.md: yolov4-tiny at 320 11.2–11.5 ms, yolov4-csp at 192
    151–153 ms). With no speed to choose by, QDQ is the format ONNX Runtime recommends and the one
    its other providers read, and per-channel weights are what a convolution is deployed with."""
    import numpy
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.registry import QLinearOpsRegistry
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class RandomImages(CalibrationDataReader):
        """``CALIBRATION_IMAGES`` images in [0, 1), the network's input shape: a calibration for
        timing (the quantised network's accuracy is not what is measured)."""

        def __init__(self) -> None:
            generator = numpy.random.default_rng(0)
            images = [generator.random(input_shape, dtype=numpy.float32) for _ in range(CALIBRATION_IMAGES)]
            self.feeds = iter([{"images": image} for image in images])

        def get_next(self) -> dict[str, numpy.ndarray] | None:
            return next(self.feeds, None)

    # the export shares equal biases through Identity nodes, which the quantiser cannot read as
    # initialisers: its pre-processing (constant folding, shape inference) resolves them first
    prepared = target.with_suffix(".prepared.onnx")
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared),
        str(target),
        RandomImages(),
        quant_format=QuantFormat[quant_format],
        per_channel=per_channel,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        # the operators with an integer kernel on a CPU (QLinear…): quantising others (the CSP
        # blocks' lone BatchNormalization) would only wrap a float operator in conversions
        op_types_to_quantize=sorted(QLinearOpsRegistry),
    )
    return target


def _provider(device: torch.device) -> str:
    return "CUDAExecutionProvider" if device.type == "cuda" else "CPUExecutionProvider"


def check_available(runtime: str, device: torch.device) -> None:
    """Raise ``RuntimeUnavailableError`` when the graph runtime ``runtime`` cannot run on
    ``device`` here (not importable, no provider for the device, TensorRT off CUDA)."""
    if runtime == "onnxruntime":
        import onnxruntime

        if _provider(device) not in onnxruntime.get_available_providers():
            raise RuntimeUnavailableError(f"runtime: ONNX Runtime here has no {_provider(device)}")
    elif runtime == "tensorrt":
        if importlib.util.find_spec("tensorrt") is None:
            raise RuntimeUnavailableError("runtime: TensorRT is not importable on this node")
        if device.type != "cuda":
            raise RuntimeUnavailableError("runtime: TensorRT needs a CUDA device")


def onnxruntime_run(path: Path, image: torch.Tensor, threads: int | None) -> Run:
    """The graph at ``path`` in an ONNX Runtime session on ``image``'s device, as ``runner`` times it."""
    import onnxruntime

    provider = _provider(image.device)
    check_available("onnxruntime", image.device)
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(str(path), options, providers=[provider])
    if provider not in session.get_providers():  # it falls back to the CPU where CUDA does not load
        raise RuntimeUnavailableError(f"runtime: ONNX Runtime could not start its {provider} here")
    feed = {"images": image.float().cpu().contiguous().numpy()}

    def run() -> torch.Tensor:
        return torch.from_numpy(session.run(["predictions"], feed)[0])

    return run


def _tensorrt(path: Path, image: torch.Tensor) -> Run:  # pragma: no cover - needs TensorRT and a GPU
    try:
        import tensorrt
    except ImportError as missing:
        raise RuntimeUnavailableError("runtime: TensorRT is not importable on this node") from missing
    if image.device.type != "cuda":
        raise RuntimeUnavailableError("runtime: TensorRT needs a CUDA device")
    logger = tensorrt.Logger(tensorrt.Logger.ERROR)
    builder = tensorrt.Builder(logger)
    network = builder.create_network(0)
    parser = tensorrt.OnnxParser(network, logger)
    if not parser.parse(path.read_bytes()):
        errors = "; ".join(str(parser.get_error(index)) for index in range(parser.num_errors))
        raise RuntimeUnavailableError(f"runtime: TensorRT cannot parse the network: {errors}")
    config = builder.create_builder_config()
    if image.dtype == torch.float16:
        config.set_flag(tensorrt.BuilderFlag.FP16)
    serialized = builder.build_serialized_network(network, config)
    engine = tensorrt.Runtime(logger).deserialize_cuda_engine(serialized)
    context = engine.create_execution_context()
    inputs = image.float().contiguous()
    output_shape = tuple(context.get_tensor_shape("predictions"))
    outputs = torch.empty(output_shape, device=image.device, dtype=torch.float32)
    context.set_tensor_address("images", inputs.data_ptr())
    context.set_tensor_address("predictions", outputs.data_ptr())
    stream = torch.cuda.current_stream()

    def run() -> torch.Tensor:
        context.execute_async_v3(stream.cuda_stream)
        return outputs

    return run
