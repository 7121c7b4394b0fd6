"""The runtimes a network is timed in (``search_spaces.devices.Runtime``): each gives a callable
that runs one batch through the network in its deployment form and returns the predictions, so
that ``workers.latency`` times every runtime the same way (warm-up, rounds of timed runs).

- ``torch``: eager PyTorch (BN folded, fused Mish, channels_last).
- ``torch-compile``: the same under ``torch.compile`` (compiled during the warm-up).
- ``onnxruntime``: the exported ONNX graph (``scaler.onnx_export``) in ONNX Runtime, the CPU
  execution provider on a CPU, the CUDA one on a GPU; the thread count is the session's.
- ``tensorrt``: an engine built from the same ONNX graph (fp16 when asked), where TensorRT is
  importable; elsewhere the measurement fails with ``RuntimeUnavailableError``.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from scaler import Detector, deploy
from scaler.onnx_export import export_onnx

RUNTIMES = ("torch", "torch-compile", "onnxruntime", "tensorrt")

Run = Callable[[], torch.Tensor]


class RuntimeUnavailableError(RuntimeError):
    """The runtime cannot run here (not installed, or no provider for the device)."""


@contextlib.contextmanager
def runner(runtime: str, model: Detector, image: torch.Tensor, threads: int | None) -> Iterator[Run]:
    """A callable that runs ``image`` through ``model`` in ``runtime`` and returns the raw
    predictions (batch, N, classes + 5) as a float tensor; resources it holds are freed on exit."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime: must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if runtime in ("torch", "torch-compile"):
        network = deploy(model, fast_activations=True).to(image.device, image.dtype)
        if runtime == "torch-compile":
            network = torch.compile(network)
        yield lambda: network(image)[0]
        return
    with tempfile.TemporaryDirectory(prefix="scaler-runtime-") as folder:
        path = export_onnx(model, Path(folder) / "model.onnx", image.shape[-1], batch=image.shape[0])
        if runtime == "onnxruntime":
            yield _onnxruntime(path, image, threads)
        else:
            yield _tensorrt(path, image)


def _onnxruntime(path: Path, image: torch.Tensor, threads: int | None) -> Run:
    import onnxruntime

    provider = "CUDAExecutionProvider" if image.device.type == "cuda" else "CPUExecutionProvider"
    if provider not in onnxruntime.get_available_providers():
        raise RuntimeUnavailableError(f"runtime: ONNX Runtime here has no {provider}")
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(str(path), options, providers=[provider])
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
