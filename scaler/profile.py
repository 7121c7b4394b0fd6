"""Profiling: parameters per layer, FLOPs at an input size and peak activation memory."""

from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from scaler.detector import Detector
from scaler.spec import LayerSpec

_CONVOLUTION_OPS = ("convolution",)


@dataclass(frozen=True)
class LayerInfo:
    index: int
    source: int | tuple[int, ...]
    repeats: int
    module: str
    arguments: tuple
    params: int


@dataclass(frozen=True)
class ModelProfile:
    name: str
    params: int
    conv_gflops: float  # convolution FLOPs (2 × multiply-accumulates) of one image
    total_gflops: float  # every op torch's flop counter knows (convs dominate)
    peak_activation_mib: float  # inference, batch 1, no grad
    input_size: int
    strides: tuple[int, ...]
    anchors_per_level: int
    layers: tuple[LayerInfo, ...]


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def layer_table(model: Detector) -> tuple[LayerInfo, ...]:
    return tuple(
        LayerInfo(index, layer.source, layer.repeats, layer.block, _arguments(layer), count_parameters(module))
        for index, (layer, module) in enumerate(zip(model.spec.layers, model.model, strict=True))
    )


def _arguments(layer: LayerSpec) -> tuple:
    return tuple(getattr(layer.args, field.name) for field in dataclasses.fields(layer.args))


def count_flops(model: nn.Module, input_size: int, batch: int = 1) -> tuple[float, float]:
    """(conv GFLOPs, all GFLOPs) of an eval-mode forward pass; a FLOP is half a multiply-add."""
    image = torch.zeros(batch, 3, input_size, input_size, device=_device(model))
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(image)
    model.train(was_training)
    counts = counter.get_flop_counts().get("Global", {})
    convolution = sum(value for op, value in counts.items() if _op_name(op) in _CONVOLUTION_OPS)
    return convolution / 1e9, counter.get_total_flops() / 1e9


def _op_name(op: object) -> str:
    return str(op).split(".")[1] if str(op).count(".") else str(op)  # "aten.convolution" → "convolution"


def _device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


class _LiveTensorBytes(TorchDispatchMode):
    """Tracks the bytes held by tensors that ops create, freeing them when they die."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._references: dict[int, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        result = func(*args, **(kwargs or {}))
        for tensor in torch.utils._pytree.tree_leaves(result):
            if isinstance(tensor, torch.Tensor):
                self._track(tensor)
        return result

    def _track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key not in self._references:
            self._references[key] = 0
            self.live += storage.nbytes()
            self.peak = max(self.peak, self.live)
        self._references[key] += 1
        weakref.finalize(tensor, self._release, key, storage.nbytes())

    def _release(self, key: int, nbytes: int) -> None:
        self._references[key] -= 1
        if self._references[key] == 0:
            del self._references[key]
            self.live -= nbytes


def peak_activation_bytes(model: nn.Module, input_size: int, batch: int = 1) -> int:
    """Peak bytes of tensors alive at once during an inference forward pass (weights excluded,
    the input image included)."""
    was_training = model.training
    model.eval()
    tracker = _LiveTensorBytes()
    with torch.no_grad():
        image = torch.zeros(batch, 3, input_size, input_size, device=_device(model))
        with tracker:
            output = model(image)
            del output
        peak = tracker.peak + image.untyped_storage().nbytes()
    model.train(was_training)
    return peak


def profile_model(model: Detector, input_size: int | None = None) -> ModelProfile:
    size = input_size or model.spec.input_size
    conv_gflops, total_gflops = count_flops(model, size)
    return ModelProfile(
        name=model.spec.name,
        params=count_parameters(model),
        conv_gflops=conv_gflops,
        total_gflops=total_gflops,
        peak_activation_mib=peak_activation_bytes(model, size) / 2**20,
        input_size=size,
        strides=tuple(int(s) for s in model.stride.tolist()),
        anchors_per_level=model.detect.na,
        layers=layer_table(model),
    )
