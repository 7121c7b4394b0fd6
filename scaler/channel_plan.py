"""The channel structure of a detector, by role: what each layer is in the family (stage, block,
pyramid level) and which channel *spaces* every tensor dimension spans (``scaler.weight_map``
maps weights between two networks through these).

A conv's output is a space; a residual add ties its output to its input's space; a
concatenation spans several spaces (each kept as its own part); a split reads a part of one (the
space is then read in parts). Roles and plans come from the layer graph and the modules
themselves, so networks built from a yaml, or a released checkpoint's, get them too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from scaler.blocks import Detect
from scaler.blocks.bottleneck import Bottleneck
from scaler.blocks.conv import Conv
from scaler.blocks.csp import BottleneckCSP, BottleneckCSP2
from scaler.blocks.darknet_csp import DarknetCSP
from scaler.blocks.osa import CSPOSA
from scaler.blocks.spp import SPP, SPPCSP
from scaler.blocks.structural import Concat
from scaler.builder import build_modules, route_layers
from scaler.detector import Detector
from scaler.spec import NetworkSpec


@dataclass(frozen=True)
class Part:
    """Part ``index`` of ``count`` equal parts of a channel space (a split reads one part)."""

    space: str
    index: int = 0
    count: int = 1


Spaces = tuple[Part, ...]  # what a tensor dimension spans: parts of spaces, concatenated


@dataclass
class ChannelPlan:
    """The channel structure of one detector: its spaces and what each tensor dimension spans."""

    sizes: dict[str, int] = field(default_factory=dict)  # space → channels
    splits: dict[str, int] = field(default_factory=dict)  # space → parts it is read in (≥ 1)
    dims: dict[str, dict[int, Spaces]] = field(default_factory=dict)  # role name → dim → parts
    keys: dict[str, str] = field(default_factory=dict)  # role name → state-dict key
    detect_rows: dict[str, int] = field(default_factory=dict)  # role name of a head tensor → anchors

    def space(self, name: str, size: int) -> Spaces:
        self.sizes[name] = size
        self.splits.setdefault(name, 1)
        return (Part(name),)

    def record(self, role_name: str, key: str, dims: Mapping[int, Spaces]) -> None:
        self.keys[role_name] = key
        self.dims[role_name] = dict(dims)

    def part_size(self, part: Part) -> int:
        return self.sizes[part.space] // part.count if part.count > 1 else self.sizes[part.space]


# ---------------------------------------------------------------------------------------------
# Roles


def layer_roles(spec: NetworkSpec) -> tuple[str, ...]:
    """Each layer's role in the family's structure (see the module docstring); fixed layouts
    without a CSP pyramid (tiny, the original YOLOv4) are named by index."""
    blocks = [layer.block for layer in spec.layers]
    if "SPPCSP" not in blocks:
        return tuple(
            "detect" if index == len(blocks) - 1 else f"layer{index}" for index in range(len(blocks))
        )
    routing = route_layers(spec)
    levels = [round(math.log2(stride)) if stride > 0 else 0 for stride in routing.strides]
    roles: list[str | None] = [None] * len(blocks)
    stage = 0
    blocks_in_stage = 0
    for index in range(spec.backbone_length):
        layer = spec.layers[index]
        if layer.block == "Conv" and layer.args.stride == 2:
            stage += 1
            blocks_in_stage = 0
            roles[index] = f"stage{stage}.down"
        elif stage == 0:
            roles[index] = "stem" if index == 0 else f"stem{index}"
        else:
            roles[index] = f"stage{stage}.block" + (f"{blocks_in_stage}" if blocks_in_stage else "")
            blocks_in_stage += 1
    detect_index = len(blocks) - 1
    roles[detect_index] = "detect"
    for source in routing.inputs[detect_index]:
        roles[source] = f"out{levels[source]}"
    consumers: dict[int, list[int]] = {}
    for index, sources in enumerate(routing.inputs):
        for source in sources:
            consumers.setdefault(source, []).append(index)
    for index in range(spec.backbone_length, detect_index):
        block = blocks[index]
        if block == "SPPCSP":
            roles[index] = "spp"
        elif block == "Upsample":
            level = levels[index]
            roles[index] = f"td{level}.up"
            roles[routing.inputs[index][0]] = f"td{level}.reduce"
        elif block == "Concat":
            sources = routing.inputs[index]
            level = levels[index]
            path = "td" if any(blocks[source] == "Upsample" for source in sources) else "bu"
            roles[index] = f"{path}{level}.cat"
            for source in sources:
                if blocks[source] == "Conv" and roles[source] is None:
                    roles[source] = f"{path}{level}.lateral" if path == "td" else f"{path}{level}.down"
            for consumer in consumers.get(index, []):
                roles[consumer] = f"{path}{level}.csp"
    return tuple(role if role is not None else f"head{index}" for index, role in enumerate(roles))


# ---------------------------------------------------------------------------------------------
# Channel plans


def channel_plan(model: Detector) -> ChannelPlan:
    """Walk ``model``'s layers by role and record the channel spaces of every tensor."""
    plan = ChannelPlan()
    roles = layer_roles(model.spec)
    strides = route_layers(model.spec).strides
    outputs: list[Spaces] = []
    image = plan.space("image", 3)
    for index, module in enumerate(model.model):
        sources = model.inputs[index]
        inputs = tuple(part for s in sources for part in (image if s == -1 else outputs[s]))
        role = roles[index]
        if isinstance(module, Detect):
            levels = tuple(round(math.log2(strides[source])) for source in sources)
            _walk_detect(plan, module, f"model.{index}", role, sources, outputs, levels)
            outputs.append(())
            continue
        outputs.append(_walk(plan, module, f"model.{index}", role, inputs))
    return plan


def _structure(spec: NetworkSpec) -> Detector:
    """``spec``'s detector without its weights (modules on the meta device: shapes only)."""
    with torch.device("meta"):
        modules = build_modules(spec, route_layers(spec))
    return Detector(spec, modules=modules)


def structure_plan(spec: NetworkSpec) -> ChannelPlan:
    """The channel plan of ``spec`` without allocating its weights."""
    return channel_plan(_structure(spec))


def structure_shapes(spec: NetworkSpec) -> dict[str, tuple[int, ...]]:
    """The state-dict keys and tensor shapes of ``spec``'s detector, without allocating them."""
    return {key: tuple(value.shape) for key, value in _structure(spec).state_dict().items()}


def _record_tensors(
    plan: ChannelPlan,
    module: nn.Module,
    key: str,
    role: str,
    dims: Mapping[str, Mapping[int, Spaces]],
) -> None:
    for name, _ in _own_tensors(module):
        plan.record(f"{role}.{name}", f"{key}.{name}", dims.get(name, {}))


def _own_tensors(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    return [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]


def _walk_conv2d(
    plan: ChannelPlan,
    conv: nn.Conv2d,
    key: str,
    role: str,
    inputs: Spaces,
    out: Spaces | None,
) -> Spaces:
    out = out if out is not None else plan.space(role, conv.out_channels)
    weight_dims: dict[int, Spaces] = {0: out}
    if conv.groups == 1:
        weight_dims[1] = inputs
    _record_tensors(plan, conv, key, role, {"weight": weight_dims, "bias": {0: out}})
    return out


def _walk_norm(plan: ChannelPlan, norm: nn.Module, key: str, role: str, spaces: Spaces) -> None:
    per_channel = {0: spaces}
    _record_tensors(
        plan,
        norm,
        key,
        role,
        {name: per_channel for name in ("weight", "bias", "running_mean", "running_var")},
    )


def _walk_conv(
    plan: ChannelPlan,
    conv: Conv,
    key: str,
    role: str,
    inputs: Spaces,
    out: Spaces | None = None,
) -> Spaces:
    spaces = _walk_conv2d(plan, conv.conv, f"{key}.conv", role, inputs, out)
    _walk_norm(plan, conv.bn, f"{key}.bn", f"{role}.bn", spaces)
    return spaces


def _walk(plan: ChannelPlan, module: nn.Module, key: str, role: str, inputs: Spaces) -> Spaces:
    """Record ``module``'s tensors (role-qualified names) and return the spaces of its output."""

    def child(name: str, value: nn.Module, spaces: Spaces, out: Spaces | None = None) -> Spaces:
        if isinstance(value, Conv):
            return _walk_conv(plan, value, f"{key}.{name}", f"{role}.{name}", spaces, out)
        if isinstance(value, nn.Conv2d):
            return _walk_conv2d(plan, value, f"{key}.{name}", f"{role}.{name}", spaces, out)
        return _walk(plan, value, f"{key}.{name}", f"{role}.{name}", spaces)

    if isinstance(module, Conv):
        return _walk_conv(plan, module, key, role, inputs)
    if isinstance(module, nn.Conv2d):
        return _walk_conv2d(plan, module, key, role, inputs, None)
    if isinstance(module, Bottleneck):
        hidden = child("cv1", module.cv1, inputs)
        tied = inputs if module.add and len(inputs) == 1 else None  # a residual add keeps its input's space
        return child("cv2", module.cv2, hidden, tied)
    if isinstance(module, nn.Sequential):
        spaces = inputs
        for name, value in module.named_children():
            spaces = child(name, value, spaces)
        return spaces
    if isinstance(module, BottleneckCSP):
        first = child("cv3", module.cv3, child("m", module.m, child("cv1", module.cv1, inputs)))
        second = child("cv2", module.cv2, inputs)
        _walk_norm(plan, module.bn, f"{key}.bn", f"{role}.bn", first + second)
        return child("cv4", module.cv4, first + second)
    if isinstance(module, BottleneckCSP2):
        reduced = child("cv1", module.cv1, inputs)
        first = child("m", module.m, reduced)
        second = child("cv2", module.cv2, reduced)
        _walk_norm(plan, module.bn, f"{key}.bn", f"{role}.bn", first + second)
        return child("cv3", module.cv3, first + second)
    if isinstance(module, SPPCSP):
        pooled = child("cv4", module.cv4, child("cv3", module.cv3, child("cv1", module.cv1, inputs)))
        first = child("cv6", module.cv6, child("cv5", module.cv5, pooled * (len(module.m) + 1)))
        second = child("cv2", module.cv2, inputs)
        _walk_norm(plan, module.bn, f"{key}.bn", f"{role}.bn", first + second)
        return child("cv7", module.cv7, first + second)
    if isinstance(module, DarknetCSP):
        first = child("cv3", module.cv3, child("m", module.m, child("cv1", module.cv1, inputs)))
        second = child("cv2", module.cv2, inputs)
        return child("cv4", module.cv4, first + second)
    if isinstance(module, CSPOSA):
        half = _second_half(plan, inputs)
        first = child("cv1", module.cv1, half)
        second = child("cv2", module.cv2, first)
        return child("cv3", module.cv3, second + first)
    if isinstance(module, SPP):
        return inputs * (len(module.m) + 1)
    if isinstance(module, Concat | nn.Upsample | nn.MaxPool2d | nn.Identity):
        return inputs
    # a block this module does not know: its tensors map by name on the overlap of the shapes
    _record_tensors(plan, module, key, role, {})
    for name, value in module.named_children():
        _record_tensors(plan, value, f"{key}.{name}", f"{role}.{name}", {})
    size = sum(plan.part_size(part) for part in inputs)
    return plan.space(role, size)


def _second_half(plan: ChannelPlan, inputs: Spaces) -> Spaces:
    """The second half of a single space (CSPOSA's partial route): the space is read in two parts."""
    if len(inputs) != 1 or inputs[0].count != 1:
        return plan.space(f"split:{inputs}", sum(plan.part_size(part) for part in inputs) // 2)
    name = inputs[0].space
    plan.splits[name] = 2
    return (Part(name, 1, 2),)


def _walk_detect(
    plan: ChannelPlan,
    head: Detect,
    key: str,
    role: str,
    sources: tuple[int, ...],
    outputs: list[Spaces],
    levels: tuple[int, ...],
) -> None:
    for level, (source, pyramid_level) in enumerate(zip(sources, levels, strict=True)):
        name = f"{role}.P{pyramid_level}"
        plan.record(f"{name}.weight", f"{key}.m.{level}.weight", {1: outputs[source]})
        plan.record(f"{name}.bias", f"{key}.m.{level}.bias", {})
        plan.detect_rows[f"{name}.weight"] = plan.detect_rows[f"{name}.bias"] = head.na
    for buffer_name, _ in head.named_buffers(recurse=False):
        plan.record(f"{role}.{buffer_name}", f"{key}.{buffer_name}", {})
