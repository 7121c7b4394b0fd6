"""ONNX export of the deployment form, checked with onnx.checker."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import onnx
import torch

from scaler.deploy import deploy
from scaler.detector import Detector

DEFAULT_OPSET = 17


def export_onnx(
    model: Detector,
    path: str | Path,
    input_size: int | None = None,
    batch: int = 1,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = False,
) -> Path:
    """Write the fused model to ``path`` as ONNX (input ``images`` (batch, 3, S, S), output
    ``predictions`` (batch, N, nc+5) in input pixels) and validate it; with ``dynamic_batch`` the
    batch dimension is symbolic."""
    size = input_size or model.spec.input_size
    deployed = deploy(model, channels_last=False, fast_activations=False, export=True).cpu()
    image = torch.zeros(batch, 3, size, size)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            deployed,
            (image,),
            buffer,
            input_names=["images"],
            output_names=["predictions"],
            opset_version=opset,
            dynamic_axes={"images": {0: "batch"}, "predictions": {0: "batch"}} if dynamic_batch else None,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buffer.getvalue())
    return target
