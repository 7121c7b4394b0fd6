"""FPN-like detectors as naïve once-for-all models (paper §5.5).

``drop_top_levels(p7, 1)`` is YOLOv4-P7\\P7: the P7 detection branch (its bottom-up stage and
head output) is removed; ``drop_top_levels(p7, 2)`` is P7\\P7\\P6. The sub-network shares the
trained modules of its parent (same parameter tensors), so it needs no retraining; layers that
no remaining output depends on are dropped and the rest renumbered.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from scaler.blocks import Detect, DetectArgs
from scaler.detector import Detector
from scaler.errors import SpecError
from scaler.spec import LayerSpec


def drop_top_levels(model: Detector, count: int = 1) -> Detector:
    """The sub-network of ``model`` without its ``count`` highest detection levels."""
    head = model.detect
    if not 1 <= count < head.nl:
        raise SpecError("count", f"can drop 1 to {head.nl - 1} of {head.nl} levels, got {count}")
    keep_levels = head.nl - count
    spec = model.spec
    detect_index = len(spec.layers) - 1
    detect_sources = model.inputs[detect_index][:keep_levels]
    live = _live_layers(model.inputs, detect_sources)
    renumber = {old: new for new, old in enumerate(live)}
    renumber[-1] = -1
    layers = []
    for new, old in enumerate(live):
        layers.append(_remap(spec.layers[old], model.inputs[old], renumber, new))
    detect_args = spec.detect
    sub_args = DetectArgs(detect_args.num_classes, detect_args.anchors[:keep_levels])
    sources = tuple(renumber[s] for s in detect_sources)
    layers.append(LayerSpec(sources, 1, "Detect", sub_args))
    removed = "".join(f"\\P{int(s).bit_length() - 1}" for s in head.stride.tolist()[keep_levels:][::-1])
    sub_spec = replace(
        spec,
        name=f"{spec.name}{removed}",
        layers=tuple(layers),
        backbone_length=min(spec.backbone_length, sum(1 for old in live if old < spec.backbone_length)),
    )
    sub_head = _sub_head(head, keep_levels, tuple(model.out_channels[s] for s in detect_sources))
    modules = (*(model.model[old] for old in live), sub_head)
    sub = Detector(sub_spec, modules=modules)
    sub.train(model.training)
    return sub


def _live_layers(inputs: tuple[tuple[int, ...], ...], roots: tuple[int, ...]) -> list[int]:
    live: set[int] = set()
    stack = list(roots)
    while stack:
        index = stack.pop()
        if index < 0 or index in live:
            continue
        live.add(index)
        stack.extend(inputs[index])
    return sorted(live)


def _remap(layer: LayerSpec, sources: tuple[int, ...], renumber: dict[int, int], new_index: int) -> LayerSpec:
    mapped = tuple(renumber[s] for s in sources)
    relative = tuple(-1 if s == new_index - 1 else s for s in mapped)
    source = relative if isinstance(layer.source, tuple) else relative[0]
    return replace(layer, source=source)


def _sub_head(head: Detect, keep_levels: int, in_channels: tuple[int, ...]) -> Detect:
    anchors = tuple(
        tuple(float(v) for v in level.flatten().tolist()) for level in head.anchor_grid[:keep_levels]
    )
    sub = Detect(head.nc, anchors, in_channels)
    sub.m = torch.nn.ModuleList(list(head.m)[:keep_levels])  # shared convolutions
    with torch.no_grad():
        sub.anchors.copy_(head.anchors[:keep_levels])
        sub.stride.copy_(head.stride[:keep_levels])
    sub.export = head.export
    return sub
