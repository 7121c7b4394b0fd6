"""Profiling: parameters per layer, FLOPs at an input size and peak activation memory."""

from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call
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
        LayerInfo(
            index, layer.source, layer.repeats, layer.block, _arguments(layer), count_parameters(module)
        )
        for index, (layer, module) in enumerate(zip(model.spec.layers, model.model, strict=True))
    )


def _arguments(layer: LayerSpec) -> tuple:
    return tuple(getattr(layer.args, field.name) for field in dataclasses.fields(layer.args))


def meta_forward(model: nn.Module, input_size: int, batch: int, mode: object, in_channels: int = 3) -> None:
    """Run an eval-mode forward of ``model`` on the meta device under ``mode``: shapes only, so
    profiling a P7 at 1536 px costs milliseconds and no memory."""
    tensors = {name: torch.empty_like(value, device="meta") for name, value in model.named_parameters()}
    tensors |= {name: torch.empty_like(value, device="meta") for name, value in model.named_buffers()}
    image = torch.empty(batch, in_channels, input_size, input_size, device="meta")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), mode:
            output = functional_call(model, tensors, (image,))
            del output
    finally:
        model.train(was_training)


def count_flops(
    model: nn.Module, input_size: int, batch: int = 1, in_channels: int = 3
) -> tuple[float, float]:
    """(conv GFLOPs, all GFLOPs) of an eval-mode forward pass on a square input; a FLOP is half
    a multiply-add, so conv GFLOPs = 2 × MACs."""
    counter = FlopCounterMode(display=False)
    meta_forward(model, input_size, batch, counter, in_channels)
    counts = counter.get_flop_counts().get("Global", {})
    convolution = sum(value for op, value in counts.items() if _op_name(op) in _CONVOLUTION_OPS)
    return convolution / 1e9, counter.get_total_flops() / 1e9


def _op_name(op: object) -> str:
    return str(op).split(".")[1] if str(op).count(".") else str(op)  # "aten.convolution" → "convolution"


class _LiveTensorBytes(TorchDispatchMode):
    """Tracks the bytes of tensors that ops create, releasing them when they die. Views and
    in-place results count once, with the tensor that owns the memory."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._owners: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        result = func(*args, **(kwargs or {}))
        for tensor in torch.utils._pytree.tree_leaves(result):
            if isinstance(tensor, torch.Tensor):
                self.track(tensor)
        return result

    def track(self, tensor: torch.Tensor) -> None:
        owner = tensor._base if tensor._base is not None else tensor
        key = id(owner)
        if key in self._owners:
            return
        nbytes = owner.numel() * owner.element_size()
        self._owners.add(key)
        self.live += nbytes
        self.peak = max(self.peak, self.live)
        weakref.finalize(owner, self._release, key, nbytes)

    def _release(self, key: int, nbytes: int) -> None:
        self._owners.discard(key)
        self.live -= nbytes


def peak_activation_bytes(model: nn.Module, input_size: int, batch: int = 1) -> int:
    """Peak bytes of activations alive at once during an inference forward pass (weights
    excluded, the input image included), from the tensor lifetimes of a meta-device run."""
    tracker = _LiveTensorBytes()
    meta_forward(model, input_size, batch, tracker)
    return tracker.peak + batch * 3 * input_size * input_size * 4


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
