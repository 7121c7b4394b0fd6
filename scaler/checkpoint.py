"""Load weights from our state dicts or from checkpoints of the reference implementation.

Reference checkpoints (``yolov4-p5.pt`` …) pickle whole model objects whose classes live in the
reference code base (``models.yolo.Model``, ``models.common.Conv``, ``utils.activations.Mish``).
They are read here without that code: any class outside torch/numpy/the standard library is
replaced by an inert ``nn.Module`` stub that keeps the pickled parameters and buffers, and the
state dict is taken from it. Because our layers and buffers are named like the reference
(``model.N.…``), it loads strictly into the matching Detector.
"""

from __future__ import annotations

import pickle
import types
from pathlib import Path
from typing import Any

import torch
from torch import nn

from scaler.detector import Detector

_TRUSTED_PREFIXES = ("torch", "collections", "numpy", "builtins", "copyreg", "_codecs", "__builtin__")


class _ReferenceStub(nn.Module):
    """Stands in for a class of the reference code base; carries only pickled state."""

    def forward(self, *args: Any) -> Any:
        raise RuntimeError("a stub of a reference module cannot run; load its state dict into a Detector")


class _StubUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] in _TRUSTED_PREFIXES:
            return super().find_class(module, name)
        return _ReferenceStub


def _stub_pickle_module() -> types.ModuleType:
    module = types.ModuleType("scaler_reference_pickle")
    module.Unpickler = _StubUnpickler  # type: ignore[attr-defined]
    module.load = lambda file, **kwargs: _StubUnpickler(file, **kwargs).load()  # type: ignore[attr-defined]
    return module


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The model weights in ``path``: a state dict, ``{"model": state dict}``, or a reference
    checkpoint ``{"model": Model, "ema": …}`` (EMA weights preferred when present)."""
    checkpoint = torch.load(
        Path(path), map_location="cpu", weights_only=False, pickle_module=_stub_pickle_module()
    )
    if isinstance(checkpoint, dict) and any(key in checkpoint for key in ("ema", "model")):
        checkpoint = checkpoint["ema"] if checkpoint.get("ema") is not None else checkpoint["model"]
    if isinstance(checkpoint, nn.Module):
        checkpoint = checkpoint.state_dict()
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise ValueError(
            f"{path}: no model weights found (expected a state dict or a checkpoint with 'model')"
        )
    return {key: value.float() if value.is_floating_point() else value for key, value in checkpoint.items()}


def load_weights(model: Detector, path: str | Path, strict: bool = True) -> Detector:
    """Load the weights in ``path`` into ``model`` (see :func:`read_state_dict`)."""
    model.load_state_dict(read_state_dict(path), strict=strict)
    return model
