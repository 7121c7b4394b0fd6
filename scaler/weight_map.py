"""Map trained weights between two points of a family, by structure (weight sharing, issue 23).

``map_weights(source, target)`` initialises the detector ``target`` from the weights of another
network of the same family — a released checkpoint, a supernet, an earlier winner. Layers are
matched **by role**, not by index (P5, P6 and P7 number their layers differently):

* backbone: the stem, and per stride-2 stage k its down-sampling conv and its block
  (``stage3.down``, ``stage3.block``); a CSP block's j-th bottleneck ↔ the j-th, so a shallower
  stage takes the first blocks;
* neck and head by pyramid level: ``spp``, the top-down path ``td4.reduce/up/lateral/cat/csp``,
  the bottom-up path ``bu5.down/cat/csp``, the output convs ``out3`` …, the Detect head per level
  ``detect.P3`` …;
* fixed layouts (tiny, the original YOLOv4) by layer index: their points differ only in width.

Width is mapped **by channel**. Every channel-carrying tensor dimension is described by the
*channel spaces* it spans (a conv's output is a space; a residual add ties its output to its
input's space; a concatenation spans several; a split such as CSPOSA's takes a part). When the
target has fewer channels in a space than the source, it takes the source's most important
channels (by batch-norm scale |γ|, or the L1 norm of the producing filters where no batch norm
follows, as Once-for-All orders them), each part of a split space sorted on its own; every
tensor that reads or writes the space uses that same order, so the slice of a trained network is
still a consistent network. A space of the same size keeps its order (a point mapped onto itself
is identical); a wider target takes the source's channels first and keeps the rest fresh.

The Detect head is mapped per anchor and per output field: box and objectness rows of the first
min(na) anchors; class rows by class name when both sides name their classes (no names on
either side and the same count: one dataset's classes), otherwise the class rows start fresh.
Anchors are always the target's own. The report says what was copied, sliced and left fresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from scaler.channel_plan import (
    ChannelPlan,
    Part,
    Spaces,
    channel_plan,
    layer_roles,
    structure_plan,
    structure_shapes,
)
from scaler.detector import Detector
from scaler.spec import NetworkSpec

__all__ = [
    "ChannelPlan",
    "MappingReport",
    "Part",
    "Spaces",
    "TensorMap",
    "WeightMap",
    "channel_order",
    "channel_plan",
    "gather",
    "layer_roles",
    "map_weights",
    "plan_mapping",
    "structure_plan",
    "structure_shapes",
]

OWN_BUFFERS = ("anchors", "anchor_grid")  # the target's anchors are its own configuration
BOX_AND_OBJECTNESS = 5  # rows per anchor before the class scores: x, y, w, h, objectness


@dataclass(frozen=True)
class MappingReport:
    """What the target took from the source: tensors copied whole, sliced (a part of a tensor of
    another shape) or left fresh (no counterpart), and the share of the target's parameter values
    that were inherited."""

    copied: tuple[str, ...]
    sliced: tuple[str, ...]
    fresh: tuple[str, ...]
    inherited_values: int
    total_values: int
    classes_mapped: int = 0  # class rows of the head taken from the source

    @property
    def share(self) -> float:
        return self.inherited_values / self.total_values if self.total_values else 0.0

    def summary(self) -> dict[str, float | int]:
        return {
            "copied": len(self.copied),
            "sliced": len(self.sliced),
            "fresh": len(self.fresh),
            "share": round(self.share, 4),
            "classes_mapped": self.classes_mapped,
        }


# ---------------------------------------------------------------------------------------------
# Channel order and index plans


def channel_order(plan: ChannelPlan, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per space, its channels from most to least important (within each part of a split space):
    by |γ| of the batch norms over the space, or the L1 norm of its producing filters."""
    scale: dict[str, torch.Tensor] = {}
    filters: dict[str, torch.Tensor] = {}
    for role_name, dims in plan.dims.items():
        parts = dims.get(0)
        tensor = state.get(plan.keys[role_name])
        if not parts or tensor is None or not tensor.is_floating_point():
            continue
        target = scale if role_name.endswith("bn.weight") else filters if tensor.dim() == 4 else None
        if target is None:
            continue
        values = tensor.detach().abs().float().reshape(tensor.shape[0], -1).sum(1)
        offset = 0
        for part in parts:
            size = plan.part_size(part)
            if part.count == 1 and values.shape[0] >= offset + size:
                total = target.setdefault(part.space, torch.zeros(size))
                if total.shape[0] == size:
                    total += values[offset : offset + size]
            offset += size
    order: dict[str, torch.Tensor] = {}
    for space, size in plan.sizes.items():
        importance = scale.get(space, filters.get(space))
        parts = plan.splits.get(space, 1)
        if importance is None or size % parts:
            order[space] = torch.arange(size)
            continue
        part_size = size // parts
        order[space] = torch.cat(
            [
                start + torch.argsort(importance[start : start + part_size], descending=True, stable=True)
                for start in range(0, size, part_size)
            ]
        )
    return order


def _part_indices(
    part_t: Part, part_s: Part, target: ChannelPlan, source: ChannelPlan, order: Mapping[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(target positions, source positions) within one segment of a dimension."""
    size_t, size_s = target.sizes[part_t.space], source.sizes[part_s.space]
    splits = max(target.splits.get(part_t.space, 1), source.splits.get(part_s.space, 1))
    if size_t % splits or size_s % splits:
        splits = 1
    chunk_t, chunk_s = size_t // splits, size_s // splits
    keep = min(chunk_t, chunk_s)
    ranked = order.get(part_s.space, torch.arange(size_s)) if size_t < size_s else torch.arange(size_s)
    targets, sources = [], []
    for chunk in range(splits):
        if part_t.count > 1 and chunk != part_t.index * splits // part_t.count:
            continue
        targets.append(chunk * chunk_t + torch.arange(keep))
        sources.append(ranked[chunk * chunk_s : chunk * chunk_s + keep])
    if part_t.count > 1:  # a part is indexed from its own start
        base_t = part_t.index * chunk_t
        base_s = part_s.index * chunk_s
        return torch.cat(targets) - base_t, torch.cat(sources) - base_s
    return torch.cat(targets), torch.cat(sources)


def _dim_indices(
    parts_t: Spaces,
    parts_s: Spaces,
    target: ChannelPlan,
    source: ChannelPlan,
    order: Mapping[str, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(target positions, source positions) along one dimension; None when the two dimensions
    are not the same concatenation of spaces."""
    if len(parts_t) != len(parts_s):
        return None
    targets, sources = [], []
    offset_t = offset_s = 0
    for part_t, part_s in zip(parts_t, parts_s, strict=True):
        if part_t.count != part_s.count or part_t.index != part_s.index:
            return None
        positions_t, positions_s = _part_indices(part_t, part_s, target, source, order)
        targets.append(offset_t + positions_t)
        sources.append(offset_s + positions_s)
        offset_t += target.part_size(part_t)
        offset_s += source.part_size(part_s)
    return torch.cat(targets), torch.cat(sources)


def _class_rows(
    target_classes: Sequence[str] | None,
    source_classes: Sequence[str] | None,
    target_count: int,
    source_count: int,
) -> list[tuple[int, int]]:
    if target_classes is not None and source_classes is not None:
        where = {name: index for index, name in enumerate(source_classes)}
        return [(index, where[name]) for index, name in enumerate(target_classes) if name in where]
    if target_classes is None and source_classes is None and target_count == source_count:
        return [(index, index) for index in range(target_count)]
    return []


def _head_rows(
    target_anchors: int,
    source_anchors: int,
    target_outputs: int,
    source_outputs: int,
    classes: list[tuple[int, int]],
) -> tuple[torch.Tensor, torch.Tensor]:
    targets, sources = [], []
    for anchor in range(min(target_anchors, source_anchors)):
        fields = [(field, field) for field in range(BOX_AND_OBJECTNESS)]
        fields += [(BOX_AND_OBJECTNESS + t, BOX_AND_OBJECTNESS + s) for t, s in classes]
        targets += [anchor * target_outputs + t for t, _ in fields]
        sources += [anchor * source_outputs + s for _, s in fields]
    return torch.tensor(targets, dtype=torch.long), torch.tensor(sources, dtype=torch.long)


# ---------------------------------------------------------------------------------------------
# Mapping


@dataclass(frozen=True)
class TensorMap:
    """How one target tensor is taken from one source tensor: per dimension, None (whole, same
    size) or (target positions, source positions)."""

    target_key: str
    source_key: str
    dims: tuple[tuple[torch.Tensor, torch.Tensor] | None, ...]

    @property
    def whole(self) -> bool:
        return all(index is None for index in self.dims)

    def select(self, value: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor | slice]]:
        """The source values the target takes (index selects: differentiable) and where they go."""
        block = value
        target_index: list[torch.Tensor | slice] = []
        for dim, index in enumerate(self.dims):
            if index is None:
                target_index.append(slice(None))
                continue
            positions_t, positions_s = index
            block = block.index_select(dim, positions_s)
            target_index.append(positions_t)
        return block, target_index

    @cached_property
    def fills_in_order(self) -> bool:
        """Whether the selected values are the whole target tensor, in its order."""
        return all(
            index is None or torch.equal(index[0], torch.arange(index[0].numel())) for index in self.dims
        )


@dataclass(frozen=True)
class WeightMap:
    """The plan of a mapping: which source values each target tensor takes."""

    tensors: tuple[TensorMap, ...]
    fresh: tuple[str, ...]
    classes_mapped: int

    def apply(self, target: nn.Module, source_state: Mapping[str, torch.Tensor]) -> MappingReport:
        state = target.state_dict()
        parameter_keys = {name for name, _ in target.named_parameters()}
        copied, sliced = [], []
        inherited = 0
        with torch.no_grad():
            for item in self.tensors:
                tensor, value = state[item.target_key], source_state[item.source_key]
                if item.whole:
                    tensor.copy_(value.to(tensor.dtype))
                    copied.append(item.target_key)
                    inherited += tensor.numel() if item.target_key in parameter_keys else 0
                    continue
                block, target_index = item.select(value)
                tensor[_open_grid(target_index, tensor.shape)] = block.to(tensor.dtype)
                sliced.append(item.target_key)
                inherited += block.numel() if item.target_key in parameter_keys else 0
        total = sum(parameter.numel() for _, parameter in target.named_parameters())
        fresh_values = [key for key in self.fresh if key in state]
        return MappingReport(
            tuple(copied), tuple(sliced), tuple(fresh_values), inherited, total, self.classes_mapped
        )


def gather(
    weight_map: WeightMap, target: nn.Module, source_tensors: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The target's tensors as functions of the source's (differentiable: gradients of a loss of
    the target flow into the source's parameters; weight sharing). Fresh tensors keep the
    target's own values; buffers (batch-norm statistics) are detached copies."""
    own = dict(target.state_dict(keep_vars=True))
    gathered: dict[str, torch.Tensor] = {key: value.detach().clone() for key, value in own.items()}
    parameter_keys = {name for name, _ in target.named_parameters()}
    for item in weight_map.tensors:
        value = source_tensors[item.source_key]
        if item.target_key not in parameter_keys:
            value = value.detach()
        if item.whole:
            gathered[item.target_key] = value if item.target_key in parameter_keys else value.clone()
            continue
        block, target_index = item.select(value)
        tensor = gathered[item.target_key]
        if block.shape == tensor.shape and item.fills_in_order:
            gathered[item.target_key] = block
        else:
            gathered[item.target_key] = tensor.index_put(_open_grid(target_index, tensor.shape), block)
    return gathered


def _open_grid(index: list[torch.Tensor | slice], shape: torch.Size) -> tuple[torch.Tensor, ...]:
    """Advanced indices selecting the outer product of per-dimension positions (broadcast views,
    as numpy's ``ix_``)."""
    grid = []
    for dim, item in enumerate(index):
        positions = torch.arange(shape[dim]) if isinstance(item, slice) else item
        view = [1] * len(shape)
        view[dim] = -1
        grid.append(positions.view(view))
    return tuple(grid)


def plan_mapping(
    source_plan: ChannelPlan,
    source_state: Mapping[str, torch.Tensor],
    target_plan: ChannelPlan,
    target_state: Mapping[str, torch.Tensor],
    source_classes: Sequence[str] | None = None,
    target_classes: Sequence[str] | None = None,
    by_importance: bool = True,
) -> WeightMap:
    """``by_importance=False``: a narrower space takes the source's leading channels (a supernet
    trained with sub-networks of leading channels, ``workers.training.sandwich``)."""
    order = channel_order(source_plan, source_state) if by_importance else {}
    tensors: list[TensorMap] = []
    fresh: list[str] = []
    classes_mapped = 0
    for role_name, key in target_plan.keys.items():
        tensor = target_state.get(key)
        if tensor is None:  # a buffer that is not saved (the head's strides)
            continue
        source_key = source_plan.keys.get(role_name)
        value = source_state.get(source_key) if source_key is not None else None
        if value is None or role_name.rsplit(".", 1)[-1] in OWN_BUFFERS or value.dim() != tensor.dim():
            fresh.append(key)
            continue
        dims: list[tuple[torch.Tensor, torch.Tensor] | None] = []
        usable = True
        for dim in range(tensor.dim()):
            if role_name in target_plan.detect_rows and dim == 0:
                target_anchors = target_plan.detect_rows[role_name]
                source_anchors = source_plan.detect_rows.get(role_name, 0)
                target_outputs = tensor.shape[0] // target_anchors
                source_outputs = value.shape[0] // max(source_anchors, 1)
                rows = _class_rows(
                    target_classes,
                    source_classes,
                    target_outputs - BOX_AND_OBJECTNESS,
                    source_outputs - BOX_AND_OBJECTNESS,
                )
                classes_mapped = max(classes_mapped, len(rows))
                if (
                    tensor.shape[0] == value.shape[0]
                    and len(rows) == target_outputs - BOX_AND_OBJECTNESS
                    and all(t == s for t, s in rows)
                ):
                    dims.append(None)
                else:
                    dims.append(
                        _head_rows(target_anchors, source_anchors, target_outputs, source_outputs, rows)
                    )
                continue
            parts_t = target_plan.dims[role_name].get(dim)
            parts_s = source_plan.dims.get(role_name, {}).get(dim)
            if parts_t is not None and parts_s is not None:
                index = _dim_indices(parts_t, parts_s, target_plan, source_plan, order)
                if index is None:
                    usable = False
                    break
                positions_t, positions_s = index
                whole = (
                    tensor.shape[dim] == value.shape[dim]
                    and positions_t.numel() == tensor.shape[dim]
                    and torch.equal(positions_t, positions_s)
                )
                dims.append(None if whole else index)
            elif tensor.shape[dim] == value.shape[dim]:
                dims.append(None)
            elif parts_t is None and parts_s is None and dim > 1:  # e.g. a kernel of another size
                usable = False
                break
            else:  # unplanned channel dimension: the leading overlap
                keep = min(tensor.shape[dim], value.shape[dim])
                dims.append((torch.arange(keep), torch.arange(keep)))
        if not usable:
            fresh.append(key)
            continue
        tensors.append(TensorMap(key, source_key, tuple(dims)))
    return WeightMap(tuple(tensors), tuple(fresh), classes_mapped)


def map_weights(
    target: Detector,
    source_spec: NetworkSpec,
    source_state: Mapping[str, torch.Tensor],
    source_classes: Sequence[str] | None = None,
    target_classes: Sequence[str] | None = None,
    by_importance: bool = True,
) -> MappingReport:
    """Initialise ``target`` from ``source_state`` (the weights of a network ``source_spec`` of
    the same family) by structure; see the module docstring."""
    source_plan = structure_plan(source_spec)
    target_plan = channel_plan(target)
    weight_map = plan_mapping(
        source_plan,
        source_state,
        target_plan,
        target.state_dict(),
        source_classes,
        target_classes,
        by_importance,
    )
    return weight_map.apply(target, source_state)
